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
from paceline.shared.i18n import L10n, render
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
    name = L10n("签单数", "Deals won")
    [most] = findings(_dist(3, 1), label=name, missed_by=["Ann", "Bo"], locale="en")
    assert most.message == (
        "2 of 3 reps missed Deals won (Ann and Bo); only 33% met it: was the target too "
        "high, or did something block the team?"
    )
    assert most.message_code == "reviews.finding.missed_by_most"
    assert most.message_params["who"] == ["Ann", "Bo"]
    assert most.message_params["share"] == {"$pct": str(D(1) / 3)}
    [all_] = findings(_dist(2, 2), label=name, locale="en")
    assert all_.message == "all 2 reps met Deals won: was the target too low?"


def test_finding_messages_in_chinese_name_the_reps_and_the_kpi() -> None:
    name = L10n("签单数", "Deals won")
    [most] = findings(_dist(7, 3), label=name, missed_by=["张伟", "李娜", "王芳", "赵敏"])
    assert most.message == (
        "7 名销售中有 4 名未达成“签单数”目标（张伟、李娜、王芳和赵敏），达成比例仅 43%："
        "是目标定得太高，还是有什么阻碍了团队？"
    )
    [all_] = findings(_dist(2, 2), label=name)
    assert all_.message == "全部 2 名销售都达成了“签单数”目标：目标是否定得太低？"


def test_findings_name_who_missed_from_the_rows() -> None:
    results = [
        KpiResult(
            kpi="deals_won",
            reps=[
                _row("rep:a", "0.5", kpi="deals_won", tier="below_baseline", met=False),
                _row("rep:b", "0.6", kpi="deals_won", tier="below_baseline", met=False),
                _row("rep:c", "1.1", kpi="deals_won", tier="target_met", met=True),
            ],
            team=_row("team:t", "0.7", kpi="deals_won", tier="below_baseline", met=False),
            label=L10n("签单数", "Deals won"),
        )
    ]
    results[0].reps[0].name = "张伟"
    _dists, [found] = distributions_and_findings(results)
    assert found.message_params["who"] == ["张伟", "b"]  # a rep without a name: the id
    assert "张伟和b" in found.message


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
        (None, "2026-11: CN¥60,000.00 of CN¥100,000.00 (60%)"),
        (
            "missed_by_most",
            "2026-11: CN¥60,000.00 of CN¥100,000.00 (60%); most of the team missed it: "
            "the suggestion follows history",
        ),
        (
            "beaten_by_all",
            "2026-11: CN¥60,000.00 of CN¥100,000.00 (60%); everybody beat it: "
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
    made = suggestion_note(row, period="2026-11", finding=finding, unit="currency")
    assert made is not None
    assert render(made, "en") == note


def test_suggestion_note_in_chinese_with_wan_and_percent() -> None:
    row = attainment_row(
        scope="rep:r1",
        name="王芳",
        kpi=builtin("revenue"),
        value=_value("1995583.33"),
        version=_version("2500000"),
        cap=CAP,
    )
    made = suggestion_note(row, period="2026-11", finding="missed_by_most", unit="currency")
    assert made is not None
    assert render(made, "zh-CN") == (
        "2026-11：实际 ¥199.56万，目标 ¥250万（达成 80%）；团队多数人未达成，建议值以历史数据为准"
    )


def test_no_note_without_a_score() -> None:
    row = _row("rep:a", None, status="no_target")
    assert suggestion_note(row, period="2026-11", finding="beaten_by_all") is None
