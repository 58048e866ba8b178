"""The review's pure steps: attainment rows, bands, distribution, findings, notes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paceline.api.reviews.results import (
    KpiResult,
    attainment_band,
    attainment_row,
    distribution,
    distributions_and_findings,
    findings,
    missed_driver_rows,
    suggestion_note,
)
from paceline.api.reviews.schemas import AttainmentRow, Distribution
from paceline.shared.db.models import TargetVersion
from paceline.shared.kpi.catalog import builtin
from paceline.shared.kpi.values import KpiValue

D = Decimal
CAP = D("1.5")


def _value(value: str | None, sample: int = 10) -> KpiValue:
    v = D(value) if value is not None else None
    return KpiValue(value=v, numerator=v, denominator=None, sample=sample)


def _version(target: str, baseline: str | None = None, stretch: str | None = None) -> TargetVersion:
    return TargetVersion(target=target, baseline=baseline, stretch=stretch)


def _row(
    scope: str,
    raw: str | None,
    *,
    kpi: str = "revenue",
    tier: str | None = None,
    met: bool | None = None,
    status: str = "scored",
) -> AttainmentRow:
    return AttainmentRow(
        scope=scope,
        name=None,
        kpi=kpi,
        actual=D("1"),
        target=D("1"),
        baseline=None,
        stretch=None,
        attainment=D(raw) if raw is not None else None,
        raw_attainment=D(raw) if raw is not None else None,
        tier=tier,
        met=met,
        status=status,
        sample=1,
    )


# -- attainment_row ---------------------------------------------------------------------


def test_row_below_baseline_is_a_miss() -> None:
    row = attainment_row(
        scope="rep:r1",
        name="Ann",
        kpi=builtin("revenue"),
        value=_value("60000"),
        version=_version("100000", baseline="80000"),
        cap=CAP,
    )
    assert (row.scope, row.name, row.kpi, row.status) == ("rep:r1", "Ann", "revenue", "scored")
    assert (row.actual, row.target, row.baseline, row.stretch) == (
        D("60000.0000"),
        D("100000.0000"),
        D("80000.0000"),
        None,
    )
    assert (row.attainment, row.raw_attainment) == (D("0.6000"), D("0.6000"))
    assert (row.tier, row.met, row.sample) == ("below_baseline", False, 10)


@pytest.mark.parametrize(
    ("stretch", "tier"), [(None, "target_met"), ("200000", "target_met"), ("150000", "stretch_met")]
)
def test_row_above_the_cap(stretch: str | None, tier: str) -> None:
    row = attainment_row(
        scope="rep:r1",
        name=None,
        kpi=builtin("revenue"),
        value=_value("180000"),
        version=_version("100000", stretch=stretch),
        cap=CAP,
    )
    assert (row.attainment, row.raw_attainment) == (D("1.5000"), D("1.8000"))
    assert (row.tier, row.met) == (tier, True)


def test_row_lower_is_better() -> None:
    # response_hours: lower is better; 4 h against a 5 h target is 125%.
    row = attainment_row(
        scope="team:north",
        name=None,
        kpi=builtin("response_hours"),
        value=_value("4", sample=3),
        version=_version("5"),
        cap=CAP,
    )
    assert (row.status, row.attainment, row.tier, row.met) == (
        "scored",
        D("1.2500"),
        "target_met",
        True,
    )


@pytest.mark.parametrize(
    ("kpi", "value", "version", "status"),
    [
        ("revenue", _value("5"), None, "no_target"),
        ("revenue", _value(None), _version("10"), "insufficient_data"),
        # response_hours needs 3 records before it is judged
        ("response_hours", _value("4", sample=2), _version("5"), "insufficient_data"),
    ],
)
def test_row_not_scored(
    kpi: str, value: KpiValue, version: TargetVersion | None, status: str
) -> None:
    row = attainment_row(
        scope="rep:r1", name=None, kpi=builtin(kpi), value=value, version=version, cap=CAP
    )
    assert row.status == status
    assert (row.attainment, row.raw_attainment, row.tier, row.met) == (None, None, None, None)


# -- distribution and findings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "band"),
    [
        ("0", "<80%"),
        ("0.7999", "<80%"),
        ("0.8", "80-100%"),
        ("0.9999", "80-100%"),
        ("1", "100-120%"),
        ("1.1999", "100-120%"),
        ("1.2", ">=120%"),
        ("5", ">=120%"),
    ],
)
def test_attainment_band(raw: str, band: str) -> None:
    assert attainment_band(D(raw)) == band


def test_distribution_counts_scored_reps_only() -> None:
    rows = [
        _row("rep:a", "0.6", tier="below_baseline", met=False),
        _row("rep:b", "1.1", tier="target_met", met=True),
        _row("rep:c", "1.3", tier="stretch_met", met=True),
        _row("rep:d", None, status="no_target"),
        _row("rep:e", None, status="insufficient_data"),
    ]
    dist = distribution("revenue", rows)
    assert (dist.kpi, dist.reps, dist.met, dist.missed) == ("revenue", 3, 2, 1)
    assert dist.share_met == D("0.6667")
    assert dist.tiers == {
        "stretch_met": 1,
        "target_met": 1,
        "baseline_met": 0,
        "below_baseline": 1,
    }
    assert (dist.attainment_min, dist.attainment_median, dist.attainment_max) == (
        D("0.6"),
        D("1.1000"),
        D("1.3"),
    )
    assert dist.buckets == {"<80%": 1, "80-100%": 0, "100-120%": 1, ">=120%": 1}


def test_distribution_median_of_an_even_count() -> None:
    rows = [
        _row("rep:a", "0.6", tier="below_baseline", met=False),
        _row("rep:b", "1.0", tier="target_met", met=True),
    ]
    assert distribution("revenue", rows).attainment_median == D("0.8000")


def test_distribution_of_nobody() -> None:
    dist = distribution("csat", [_row("rep:a", None, status="no_target")])
    assert (dist.reps, dist.met, dist.missed, dist.share_met) == (0, 0, 0, None)
    assert (dist.attainment_min, dist.attainment_median, dist.attainment_max) == (None,) * 3
    assert set(dist.buckets.values()) == {0}
    assert set(dist.tiers.values()) == {0}


def _dist(reps: int, met: int) -> Distribution:
    return Distribution(
        kpi="deals_won",
        reps=reps,
        met=met,
        missed=reps - met,
        share_met=D(met) / reps if reps else None,
        tiers={},
        attainment_min=None,
        attainment_median=None,
        attainment_max=None,
        buckets={},
    )


@pytest.mark.parametrize(
    ("reps", "met", "finding"),
    [
        (0, 0, None),
        (1, 0, None),  # one rep is too few to say anything about the target
        (1, 1, None),
        (2, 0, "missed_by_most"),
        (3, 1, "missed_by_most"),
        (2, 1, None),  # half missed: not most
        (4, 2, None),
        (3, 2, None),
        (2, 2, "beaten_by_all"),
        (5, 5, "beaten_by_all"),
    ],
)
def test_findings(reps: int, met: int, finding: str | None) -> None:
    assert [f.finding for f in findings(_dist(reps, met))] == ([finding] if finding else [])


def test_finding_messages() -> None:
    [most] = findings(_dist(3, 1))
    assert most.message == (
        "2 of 3 reps missed deals_won: was the target too high, or did something block the team?"
    )
    [all_] = findings(_dist(2, 2))
    assert all_.message == "all 2 reps met deals_won: was the target too low?"


def test_distribution_leaves_the_team_row_out() -> None:
    # Both reps met; the team's own (missed) row neither counts nor prevents the finding.
    results = [
        KpiResult(
            kpi="deals_won",
            reps=[
                _row("rep:a", "1.2", kpi="deals_won", tier="target_met", met=True),
                _row("rep:b", "1.1", kpi="deals_won", tier="target_met", met=True),
            ],
            team=_row("team:t", "0.5", kpi="deals_won", tier="below_baseline", met=False),
        ),
        KpiResult(
            kpi="revenue",
            reps=[_row("rep:a", "0.5", tier="below_baseline", met=False)],
            team=_row("team:t", None, status="no_target"),
        ),
    ]
    dists, found = distributions_and_findings(results)
    assert [(d.kpi, d.reps, d.met) for d in dists] == [("deals_won", 2, 2), ("revenue", 1, 0)]
    assert [(f.kpi, f.finding) for f in found] == [("deals_won", "beaten_by_all")]
    assert [r.scope for r in results[0].rows] == ["rep:a", "rep:b", "team:t"]


def test_missed_driver_rows() -> None:
    rows = [
        _row("rep:a", "0.5", met=False),
        _row("rep:a", "0.5", kpi="quotes", met=False),  # quotes has no drivers
        _row("rep:b", "1.5", met=True),
        _row("rep:c", None, status="no_target"),
        _row("team:t", "0.9", kpi="deals_won", met=False),
    ]
    assert [(r.scope, r.kpi) for r in missed_driver_rows(rows)] == [
        ("rep:a", "revenue"),
        ("team:t", "deals_won"),
    ]


# -- suggestion notes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finding", "note"),
    [
        (None, "2026-11: 60000.0000 of 100000.0000 (60.0%)"),
        (
            "missed_by_most",
            "2026-11: 60000.0000 of 100000.0000 (60.0%); most of the team missed it: "
            "the suggestion follows history",
        ),
        (
            "beaten_by_all",
            "2026-11: 60000.0000 of 100000.0000 (60.0%); everybody beat it: "
            "the suggestion follows history, not the target",
        ),
    ],
)
def test_suggestion_note(finding: str | None, note: str) -> None:
    row = attainment_row(
        scope="rep:r1",
        name=None,
        kpi=builtin("revenue"),
        value=_value("60000"),
        version=_version("100000"),
        cap=CAP,
    )
    assert suggestion_note(row, period="2026-11", finding=finding) == note


def test_no_note_without_a_score() -> None:
    row = _row("rep:a", None, status="no_target")
    assert suggestion_note(row, period="2026-11", finding="beaten_by_all") is None
