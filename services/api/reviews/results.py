"""Pure steps of the review: attainment rows, their distribution, findings, and notes.

No I/O: each function takes values already read (:mod:`.steps` reads them) and returns
the review's shapes, so the rules can be tested with plain numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from paceline.api.reviews.schemas import AttainmentRow, Distribution, ReviewFinding
from paceline.shared.db.models import TargetVersion
from paceline.shared.i18n import L10n, Money, Msg, Pct, msg, params_json, render
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.scorecards import UNCAPPED, attainment, kpi_tier
from paceline.shared.kpi.values import KpiValue
from paceline.shared.readmodel.evaluation import q4

MIN_REPS_FOR_FINDINGS = 2
TIERS = ("stretch_met", "target_met", "baseline_met", "below_baseline")
BUCKETS = ("<80%", "80-100%", "100-120%", ">=120%")
# Rows of these KPIs that missed their target are split into drivers (:mod:`.drivers`).
DRIVER_SPLIT_KPIS = frozenset({"revenue", "deals_won"})


@dataclass(frozen=True, slots=True)
class KpiResult:
    """One KPI's attainment rows: each member's (in member order), then the team's own."""

    kpi: str
    reps: list[AttainmentRow]
    team: AttainmentRow
    label: L10n | None = None  # the KPI's name in both languages (None: its key)

    @property
    def rows(self) -> list[AttainmentRow]:
        """The members' rows, then the team's."""
        return [*self.reps, self.team]


def attainment_row(
    *,
    scope: str,
    name: str | None,
    kpi: KpiDefinition,
    value: KpiValue,
    version: TargetVersion | None,
    cap: Decimal,
) -> AttainmentRow:
    """One scope's result on one KPI against the target version given (None: no target)."""
    target = Decimal(version.target) if version is not None else None
    baseline = Decimal(version.baseline) if version and version.baseline is not None else None
    stretch = Decimal(version.stretch) if version and version.stretch is not None else None
    actual = value.value
    if target is None:
        status = "no_target"
    elif actual is None or (kpi.is_ratio and value.sample < kpi.min_sample):
        status = "insufficient_data"
    else:
        status = "scored"
    att = raw = None
    tier = None
    met = None
    if status == "scored":
        assert actual is not None
        assert target is not None
        att = attainment(actual, target, kpi.direction, cap)
        raw = attainment(actual, target, kpi.direction, UNCAPPED)
        tier = kpi_tier(actual, target, baseline, stretch, kpi.direction)
        met = tier in {"target_met", "stretch_met"}
    return AttainmentRow(
        scope=scope,
        name=name,
        kpi=kpi.key,
        actual=q4(actual),
        target=q4(target),
        baseline=q4(baseline),
        stretch=q4(stretch),
        attainment=q4(att),
        raw_attainment=q4(raw),
        tier=tier,
        met=met,
        status=status,  # one of the three above
        sample=value.sample,
    )


def attainment_band(raw: Decimal) -> str:
    """The band of an uncapped attainment: <80%, 80-100%, 100-120% or >=120%."""
    if raw < Decimal("0.8"):
        return "<80%"
    if raw < 1:
        return "80-100%"
    if raw < Decimal("1.2"):
        return "100-120%"
    return ">=120%"


def distribution(kpi: str, rows: Sequence[AttainmentRow]) -> Distribution:
    """How the scored reps of ``rows`` did on one KPI: met, tiers, bands, min/median/max."""
    scored = [r for r in rows if r.status == "scored" and r.raw_attainment is not None]
    met = sum(1 for r in scored if r.met)
    tiers = dict.fromkeys(TIERS, 0)
    buckets = dict.fromkeys(BUCKETS, 0)
    for r in scored:
        if r.tier is not None:
            tiers[r.tier] += 1
        assert r.raw_attainment is not None
        buckets[attainment_band(r.raw_attainment)] += 1
    atts = [r.raw_attainment for r in scored if r.raw_attainment is not None]
    return Distribution(
        kpi=kpi,
        reps=len(scored),
        met=met,
        missed=len(scored) - met,
        share_met=q4(Decimal(met) / len(scored)) if scored else None,
        tiers=tiers,
        attainment_min=min(atts) if atts else None,
        attainment_median=q4(Decimal(statistics.median(atts))) if atts else None,
        attainment_max=max(atts) if atts else None,
        buckets=buckets,
    )


def _finding(
    dist: Distribution,
    kind: Literal["missed_by_most", "beaten_by_all"],
    message: Msg,
    locale: str,
) -> ReviewFinding:
    assert dist.share_met is not None
    return ReviewFinding(
        kpi=dist.kpi,
        finding=kind,
        share_met=dist.share_met,
        message=render(message, locale),
        message_code=message.code,
        message_params=params_json(message.params),
    )


def findings(
    dist: Distribution,
    *,
    label: L10n | None = None,
    missed_by: Sequence[str] = (),
    locale: str = "zh-CN",
) -> list[ReviewFinding]:
    """A KPI more than half of the scored reps missed, or every one met (two reps at least);
    the message (in ``locale``) names the KPI (``label``) and the reps who missed it."""
    if dist.reps < MIN_REPS_FOR_FINDINGS or dist.share_met is None:
        return []
    name = label or L10n(dist.kpi, dist.kpi)
    if dist.missed * 2 > dist.reps:
        message = msg(
            "reviews.finding.missed_by_most",
            missed=dist.missed,
            reps=dist.reps,
            kpi=name,
            who=list(missed_by),
            share=Pct(dist.share_met),
        )
        return [_finding(dist, "missed_by_most", message, locale)]
    if dist.met == dist.reps:
        message = msg("reviews.finding.beaten_by_all", reps=dist.reps, kpi=name)
        return [_finding(dist, "beaten_by_all", message, locale)]
    return []


def who(row: AttainmentRow) -> str:
    """How a person reads a row's scope: the rep's name, else the id."""
    return row.name or row.scope.partition(":")[2] or row.scope


def distributions_and_findings(
    results: Sequence[KpiResult], locale: str = "zh-CN"
) -> tuple[list[Distribution], list[ReviewFinding]]:
    """Each KPI's distribution over its members' rows (the team's own row aside), and the
    findings they raise (in ``locale``), in KPI order."""
    dists = [distribution(r.kpi, r.reps) for r in results]
    out = []
    for r, d in zip(results, dists, strict=True):
        missed = [who(row) for row in r.reps if row.status == "scored" and row.met is False]
        out += findings(d, label=r.label, missed_by=missed, locale=locale)
    return dists, out


def missed_driver_rows(rows: Sequence[AttainmentRow]) -> list[AttainmentRow]:
    """The rows whose missed target is split into drivers (revenue, deals_won), in order."""
    return [r for r in rows if r.met is False and r.kpi in DRIVER_SPLIT_KPIS]


def amount(value: Decimal, unit: str, currency: str) -> Decimal | Money | Pct:
    """A KPI's value as a message parameter: money in the tenant's currency, a ratio as a
    percentage, anything else a number."""
    if unit == "currency":
        return Money(value, currency)
    if unit == "ratio":
        return Pct(value)
    return value


def suggestion_note(
    row: AttainmentRow,
    *,
    period: str,
    finding: str | None,
    unit: str = "count",
    currency: str = "CNY",
) -> Msg | None:
    """What this period's result says about next period's suggestion (None if not scored)."""
    if row.status != "scored" or row.actual is None or row.target is None:
        return None
    note = msg(
        "reviews.note.result",
        period=period,
        actual=amount(row.actual, unit, currency),
        target=amount(row.target, unit, currency),
        attainment=Pct(row.raw_attainment or 0),
    )
    if finding == "missed_by_most":
        return msg("reviews.note.missed_by_most", result=note)
    if finding == "beaten_by_all":
        return msg("reviews.note.beaten_by_all", result=note)
    return note
