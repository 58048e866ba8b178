"""The incentive plan document and its checks (docs/INCENTIVES.md, "Plans").

A plan is a list of components of six types; amounts are in the tenant's currency,
attainments and rates are fractions (``1`` = 100%, ``0.05`` = 5%):

- ``commission``: a rate table on an amount KPI (revenue, payments_collected, a custom
  gross margin). Tiers by attainment of the rep's target, each starting ``from`` an
  attainment (the first from 0); ``marginal`` pays each slice at its own rate,
  ``retroactive`` pays the reached tier's rate on the whole amount.
- ``bonus``: a target amount paid along a curve of attainment (of the rep's scorecard,
  or of one KPI for the rep or the rep's team): nothing below the threshold, the
  threshold's payout at it, 100% at target, the stretch payout at stretch, then the
  accelerator's slope, never above the cap.
- ``gate``: a KPI's value (or attainment) below ``min`` / above ``max`` withholds the
  components it applies to, or scales them by ``factor``.
- ``modifier``: scales the components it applies to by ``1 + per_unit × value`` of a
  KPI, kept within ``[floor, ceiling]`` (a complaint costs 10%: ``per_unit: -0.1``).
- ``spiff``: a fixed amount per unit of a count KPI on the days ``start``..``end``.
- ``pool``: a team pool: ``amount`` along the same curve of the team's attainment of a
  KPI, split among the team's reps on the plan by weights, attainment or equally.

:func:`check_plan` is every rule beyond the field types: tiers ordered, curve points
ordered, the cap above the thresholds, references that exist. Each finding names its
field the way the API's 422 does (``components[1].tiers[2].from``) and says why with a
catalog message (``incentives.plan.*``: a code and its parameters, no words of its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from paceline.shared.errors import FieldError
from paceline.shared.i18n import L10n, msg

_MAX_AMOUNT = Decimal(10) ** 12
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
KpiKey = Annotated[str, Field(min_length=1, max_length=64)]
Share = Annotated[Decimal, Field(ge=0, le=100, max_digits=20, decimal_places=8)]
Rate = Annotated[Decimal, Field(ge=0, le=10, max_digits=20, decimal_places=8)]
Amount = Annotated[Decimal, Field(ge=0, le=_MAX_AMOUNT, max_digits=24, decimal_places=4)]
Signed = Annotated[
    Decimal, Field(ge=-(Decimal(10) ** 15), le=Decimal(10) ** 15, max_digits=30, decimal_places=8)
]
PerUnit = Annotated[Decimal, Field(ge=-10, le=10, max_digits=20, decimal_places=8)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Tier(_Strict):
    """A commission tier: its rate from an attainment on (the boundary belongs to it)."""

    start: Share = Field(alias="from", description="Attainment the tier starts at (1 = 100%).")
    rate: Rate = Field(description="Commission rate (0.05 = 5%).")


class Curve(_Strict):
    """A payout curve over attainment; the fraction of ``amount`` paid (1 = 100%)."""

    threshold: Share | None = Field(
        default=None,
        description="Attainment below which nothing is paid; omitted: the target's baseline "
        "(baseline / target) for a KPI basis, 0 for a scorecard.",
    )
    threshold_payout: Share | None = Field(
        default=None, description="Payout at the threshold; omitted: the threshold itself."
    )
    stretch: Share | None = Field(
        default=None,
        description="Stretch attainment; omitted: the target's stretch for a KPI basis.",
    )
    stretch_payout: Share | None = Field(
        default=None, description="Payout at stretch; omitted: the stretch itself."
    )
    accelerator: Rate | None = Field(
        default=None,
        description="Payout per unit of attainment above stretch (above target without a "
        "stretch); omitted: the slope just below it.",
    )
    cap: Share | None = Field(default=None, description="Largest payout; omitted: none.")


class Commission(_Strict):
    """Commission on an amount KPI by attainment tiers."""

    type: Literal["commission"]
    key: Key
    kpi: KpiKey
    mode: Literal["marginal", "retroactive"] = "marginal"
    tiers: Annotated[list[Tier], Field(min_length=1, max_length=20)]


class Bonus(Curve):
    """A target bonus paid along a curve of the scorecard's or one KPI's attainment."""

    type: Literal["bonus"]
    key: Key
    basis: KpiKey = Field(description="``scorecard`` or a KPI key.")
    scope: Literal["rep", "team"] = Field(
        default="rep", description="Whose attainment (team: the rep's team; KPI basis only)."
    )
    amount: Amount = Field(description="Paid at 100% attainment.")


class Gate(_Strict):
    """A condition on a KPI that withholds or scales other components."""

    type: Literal["gate"]
    key: Key
    kpi: KpiKey
    on: Literal["value", "attainment"] = "value"
    min: Signed | None = None
    max: Signed | None = None
    effect: Literal["withhold", "scale"] = "withhold"
    factor: Share = Field(default=Decimal(0), description="The scale when the gate fails.")
    applies_to: list[Key] | None = Field(
        default=None, description="Component keys; omitted: every bonus and pool."
    )
    when_no_data: Literal["pass", "fail"] = "pass"


class Modifier(_Strict):
    """Scales other components by a KPI's value: ``1 + per_unit × value`` within bounds."""

    type: Literal["modifier"]
    key: Key
    kpi: KpiKey
    per_unit: PerUnit
    floor: Share = Decimal(0)
    ceiling: Share | None = None
    applies_to: list[Key] | None = Field(
        default=None, description="Component keys; omitted: every bonus and pool."
    )


class Spiff(_Strict):
    """A fixed amount per unit of a count KPI on the days ``start``..``end`` (inclusive)."""

    type: Literal["spiff"]
    key: Key
    kpi: KpiKey
    amount: Amount
    start: date
    end: date
    max_count: Annotated[int, Field(ge=1, le=1_000_000)] | None = None


class Pool(Curve):
    """A team pool along a curve of the team's attainment, split among its reps."""

    type: Literal["pool"]
    key: Key
    basis: KpiKey = Field(description="The KPI whose team attainment funds the pool.")
    amount: Amount = Field(description="The pool at 100% team attainment.")
    split: Literal["equal", "weights", "attainment"] = "equal"
    weights: dict[str, Share] = Field(
        default_factory=dict,
        description="split: weights — by rep id or ``role:KEY``; a rep without one weighs 1.",
    )


Component = Annotated[
    Commission | Bonus | Gate | Modifier | Spiff | Pool, Field(discriminator="type")
]
PAYING: tuple[str, ...] = ("commission", "bonus", "spiff", "pool")


class PlanBody(_Strict):
    """What a plan version says: names and components."""

    name_zh: Annotated[str, Field(min_length=1, max_length=200)]
    name_en: Annotated[str, Field(min_length=1, max_length=200)]
    components: Annotated[list[Component], Field(min_length=1, max_length=30)]

    def paying(self) -> list[Commission | Bonus | Spiff | Pool]:
        """The components that pay (not gates or modifiers)."""
        return [c for c in self.components if isinstance(c, Commission | Bonus | Spiff | Pool)]

    def kpis(self) -> set[str]:
        """Every KPI the plan reads (``scorecard`` excluded)."""
        out: set[str] = set()
        for c in self.components:
            key = c.basis if isinstance(c, Bonus | Pool) else c.kpi
            if key != "scorecard":
                out.add(key)
        return out


def default_targets(c: Gate | Modifier) -> Callable[[Commission | Bonus | Spiff | Pool], bool]:
    """Which paying components a gate or modifier applies to."""
    if c.applies_to is not None:
        keys = set(c.applies_to)
        return lambda p: p.key in keys
    return lambda p: isinstance(p, Bonus | Pool)


def _curve_findings(c: Curve, at: str) -> Iterable[FieldError]:
    if c.threshold is not None and c.threshold >= 1:
        yield FieldError(f"{at}.threshold", msg("incentives.plan.threshold_below_target"))
    if c.stretch is not None and c.stretch <= 1:
        yield FieldError(f"{at}.stretch", msg("incentives.plan.stretch_above_target"))
    if c.threshold_payout is not None and c.threshold_payout > 1:
        yield FieldError(f"{at}.threshold_payout", msg("incentives.plan.threshold_payout_max"))
    if c.stretch_payout is not None and c.stretch_payout < 1:
        yield FieldError(f"{at}.stretch_payout", msg("incentives.plan.stretch_payout_min"))
    if c.cap is not None:
        floor = max(
            Decimal(1),
            c.threshold_payout or Decimal(0),
        )
        if c.cap < floor:
            yield FieldError(f"{at}.cap", msg("incentives.plan.cap_min", floor=floor))
        if c.stretch_payout is not None and c.cap < c.stretch_payout:
            yield FieldError(f"{at}.cap", msg("incentives.plan.cap_below_stretch"))


def check_plan(
    body: PlanBody,
    *,
    known_kpis: Mapping[str, str],
    kpi_names: Mapping[str, L10n] | None = None,
) -> list[FieldError]:
    """Every rule a plan breaks beyond field types (``known_kpis``: key → ``additive``
    (sums and counts), ``distinct`` (other single values) or ``ratio``; ``kpi_names``:
    key → the KPI's name in both languages, for the reasons people read). Each reason
    is a catalog message (``incentives.plan.*``), rendered where it is answered."""
    names = kpi_names or {}

    def named(kpi: str) -> dict[str, object]:
        return {"kpi": kpi, "name": names.get(kpi, kpi)}

    out: list[FieldError] = []
    keys = [c.key for c in body.components]
    paying_keys = {c.key for c in body.paying()}
    for i, c in enumerate(body.components):
        at = f"components[{i}]"
        if keys.count(c.key) > 1 and keys.index(c.key) != i:
            out.append(FieldError(f"{at}.key", msg("incentives.plan.key_taken", key=c.key)))
        kpi = c.basis if isinstance(c, Bonus | Pool) else c.kpi
        kpi_field = f"{at}.basis" if isinstance(c, Bonus | Pool) else f"{at}.kpi"
        if kpi == "scorecard":
            if not isinstance(c, Bonus):
                out.append(FieldError(kpi_field, msg("incentives.plan.scorecard_only_bonus")))
            elif c.scope == "team":
                out.append(FieldError(f"{at}.scope", msg("incentives.plan.scorecard_rep_only")))
        elif kpi not in known_kpis:
            out.append(FieldError(kpi_field, msg("incentives.plan.unknown_kpi", kpi=kpi)))
        elif isinstance(c, Commission) and known_kpis[kpi] != "additive":
            out.append(FieldError(kpi_field, msg("incentives.plan.not_additive", **named(kpi))))
        elif isinstance(c, Spiff) and known_kpis[kpi] == "ratio":
            out.append(FieldError(kpi_field, msg("incentives.plan.ratio_not_count", **named(kpi))))
        if isinstance(c, Commission):
            if c.tiers[0].start != 0:
                out.append(
                    FieldError(f"{at}.tiers[0].from", msg("incentives.plan.first_tier_zero"))
                )
            for j in range(1, len(c.tiers)):
                if c.tiers[j].start <= c.tiers[j - 1].start:
                    out.append(
                        FieldError(f"{at}.tiers[{j}].from", msg("incentives.plan.tiers_increasing"))
                    )
                if c.mode == "retroactive" and c.tiers[j].rate < c.tiers[j - 1].rate:
                    # The whole amount at a lower rate would pay less for more.
                    out.append(
                        FieldError(
                            f"{at}.tiers[{j}].rate", msg("incentives.plan.retroactive_rates")
                        )
                    )
        elif isinstance(c, Bonus | Pool):
            out.extend(_curve_findings(c, at))
            if isinstance(c, Pool) and c.split != "weights" and c.weights:
                out.append(FieldError(f"{at}.weights", msg("incentives.plan.weights_need_split")))
        elif isinstance(c, Gate):
            if (c.min is None) == (c.max is None):
                out.append(FieldError(f"{at}.min", msg("incentives.plan.gate_one_bound")))
            if c.effect == "scale" and c.factor > 1:
                out.append(FieldError(f"{at}.factor", msg("incentives.plan.gate_factor")))
        elif isinstance(c, Modifier):
            if c.ceiling is not None and c.ceiling < c.floor:
                out.append(FieldError(f"{at}.ceiling", msg("incentives.plan.ceiling_below_floor")))
        elif isinstance(c, Spiff) and c.end < c.start:
            out.append(FieldError(f"{at}.end", msg("incentives.plan.end_before_start")))
        if isinstance(c, Gate | Modifier) and c.applies_to is not None:
            for j, key in enumerate(c.applies_to):
                if key not in paying_keys:
                    out.append(
                        FieldError(
                            f"{at}.applies_to[{j}]",
                            msg("incentives.plan.no_paying_component", key=key),
                        )
                    )
    return out
