"""Role templates and scorecards (docs/KPIS.md, "Scorecards"), pure.

A role template lists KPIs with weights that sum to 100; the built-in ones follow the
60 / 30 / 10 mix of result, process and capability KPIs, with at most five KPIs each.

Attainment is direction-aware (actual / target, or target / actual when lower is better)
and capped (150% by default), so one blow-out KPI cannot hide the others. The weighted
score is the weighted mean attainment (x100) over the KPIs that can be scored (they have
a target and, for ratios, the minimum sample); ``coverage`` says which share of the
weight that was. The tier compares the score with the same weighted mean of the baseline
and stretch attainments: ``stretch_met``, ``target_met``, ``baseline_met`` or
``below_baseline``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

Tier = Literal["stretch_met", "target_met", "baseline_met", "below_baseline"]
DEFAULT_CAP: Final = Decimal("1.5")
# "No cap": the uncapped attainments that decide tiers (a stretch beyond the cap is not
# met by reaching the cap).
UNCAPPED: Final = Decimal(10) ** 9


@dataclass(frozen=True, slots=True)
class TemplateItem:
    """A KPI of a role template and its weight (percent)."""

    kpi: str
    weight: Decimal


@dataclass(frozen=True, slots=True)
class RoleTemplate:
    """KPIs and weights for a role."""

    key: str
    name_zh: str
    name_en: str
    items: tuple[TemplateItem, ...]
    builtin: bool = True


def _t(key: str, zh: str, en: str, *items: tuple[str, int]) -> RoleTemplate:
    return RoleTemplate(key, zh, en, tuple(TemplateItem(k, Decimal(w)) for k, w in items))


BUILTIN_TEMPLATES: Final[tuple[RoleTemplate, ...]] = (
    _t(
        "account_manager",
        "客户经理",
        "Account manager",
        ("revenue", 40),
        ("new_customers", 20),  # result 60
        ("visits", 15),
        ("win_rate", 15),  # process 30
        ("crm_active_days", 10),
    ),  # capability 10
    _t(
        "channel_manager",
        "渠道经理",
        "Channel manager",
        ("revenue", 40),
        ("payments_collected", 20),  # result 60
        ("new_opportunities", 15),
        ("quotes", 15),  # process 30
        ("training_pass_rate", 10),
    ),  # capability 10
    _t(
        "presales",
        "售前/售后",
        "Presales / aftersales",
        ("deals_won", 30),
        ("gross_margin_rate", 30),  # result 60
        ("response_hours", 15),
        ("csat", 15),  # process 30
        ("training_pass_rate", 10),
    ),  # capability 10
)
BUILTIN_TEMPLATE_BY_KEY: Final = {t.key: t for t in BUILTIN_TEMPLATES}


def attainment(
    actual: Decimal, target: Decimal, direction: str, cap: Decimal = DEFAULT_CAP
) -> Decimal | None:
    """Actual against target as a fraction (1 = met), direction-aware and capped."""
    if direction == "lower":
        if actual <= 0:
            return cap
        value = target / actual
    else:
        if target <= 0:
            return cap if actual > 0 else Decimal(1)
        value = actual / target
    return min(value, cap)


def kpi_tier(
    actual: Decimal,
    target: Decimal,
    baseline: Decimal | None,
    stretch: Decimal | None,
    direction: str,
) -> Tier:
    """Which of stretch, target and baseline one KPI's actual reaches."""

    def reached(goal: Decimal) -> bool:
        return actual <= goal if direction == "lower" else actual >= goal

    if stretch is not None and reached(stretch):
        return "stretch_met"
    if reached(target):
        return "target_met"
    if baseline is not None and reached(baseline):
        return "baseline_met"
    return "below_baseline"


@dataclass(frozen=True, slots=True)
class ScoredItem:
    """One KPI's part in a score.

    ``attainment`` is capped (it makes the score); ``raw``, ``baseline`` and ``stretch``
    are uncapped attainments of the actual, the baseline and the stretch value (they
    decide the tier, so a stretch beyond the cap is not "met" by reaching the cap).
    """

    weight: Decimal
    attainment: Decimal | None  # None: not scored (no target, too small a sample)
    raw: Decimal | None = None
    baseline: Decimal | None = None
    stretch: Decimal | None = None


def scored_item(
    weight: Decimal,
    *,
    actual: Decimal | None,
    target: Decimal | None,
    baseline: Decimal | None,
    stretch: Decimal | None,
    direction: str,
    cap: Decimal,
) -> ScoredItem:
    """One KPI's part in a score: capped attainment, and the uncapped attainments of the
    actual, baseline and stretch (not scored without an actual or a target)."""
    if actual is None or target is None:
        return ScoredItem(weight, None)

    def uncapped(value: Decimal | None) -> Decimal | None:
        return attainment(value, target, direction, UNCAPPED) if value is not None else None

    return ScoredItem(
        weight,
        attainment(actual, target, direction, cap),
        uncapped(actual),
        uncapped(baseline),
        uncapped(stretch),
    )


@dataclass(frozen=True, slots=True)
class Score:
    """A weighted score with its tier and the share of weight it covers."""

    score: Decimal | None
    tier: Tier | None
    coverage: Decimal


def _weighted(items: Sequence[ScoredItem], pick: str, default: Decimal) -> Decimal:
    total = sum((i.weight for i in items), Decimal(0))
    acc = Decimal(0)
    for i in items:
        value = getattr(i, pick)
        acc += i.weight * (value if value is not None else default)
    return acc / total * 100


def weighted_score(items: Sequence[ScoredItem]) -> Score:
    """The weighted score (capped, 0-150) over the scorable items, its tier and coverage.

    The tier compares the uncapped weighted attainment with the weighted attainments of
    the baselines and the stretches (a missing baseline counts as the target itself; a
    missing stretch cannot be met).
    """
    total_weight = sum((i.weight for i in items), Decimal(0))
    scored = [i for i in items if i.attainment is not None]
    weight = sum((i.weight for i in scored), Decimal(0))
    coverage = weight / total_weight if total_weight else Decimal(0)
    if not scored or weight == 0:
        return Score(None, None, coverage)
    score = _weighted(scored, "attainment", Decimal(0))
    raw = _weighted(
        [
            ScoredItem(i.weight, i.attainment, i.raw if i.raw is not None else i.attainment)
            for i in scored
        ],
        "raw",
        Decimal(0),
    )
    base = _weighted(scored, "baseline", Decimal(1))
    tier: Tier
    if all(i.stretch is not None for i in scored) and raw >= _weighted(
        scored, "stretch", Decimal(1)
    ):
        tier = "stretch_met"
    elif raw >= 100:
        tier = "target_met"
    elif raw >= base:
        tier = "baseline_met"
    else:
        tier = "below_baseline"
    return Score(score, tier, coverage)
