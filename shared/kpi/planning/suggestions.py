"""Suggestions from history: baseline, target and stretch with the reasoning as data.

Sum and count KPIs (:func:`suggest_additive`) use a multiplicative seasonal model on
monthly history (:func:`seasonal_model`: seasonal index = ratio to the centred 12-month
moving average; trend = last 12 months over the 12 before), the same period last year,
the team's growth goal and caps. Ratio and average KPIs (:func:`suggest_ratio`) start
from the last 12 months' value. The steps and flags are catalog messages
(:class:`~paceline.shared.i18n.Msg`) with the numbers as parameters (amounts as
:class:`~paceline.shared.i18n.Money` when the KPI counts money), rendered by the service in
the reader's language. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from paceline.shared.i18n import Msg, Pct, msg
from paceline.shared.kpi.periods import Period
from paceline.shared.kpi.planning.common import (
    DEFAULT_CAP,
    DEFAULT_MARGIN,
    DEFAULT_UPLIFT,
    amount,
    month_index,
    month_start,
    period_name,
)


@dataclass(frozen=True, slots=True)
class SeasonalModel:
    """A multiplicative model of a monthly series: level x (1 + growth)^t x index(month)."""

    first: int  # month index of the first month with data
    cutoff: int  # month index of the first month not in the history
    indices: dict[int, Decimal]  # month of year (1-12) -> seasonal index (mean 1)
    index_months: dict[int, int]  # month of year -> how many months taught its index
    growth: Decimal | None  # trend: last 12 months over the 12 before, minus 1 (uncapped)
    last12: Decimal
    previous12: Decimal | None
    level: Decimal  # average month of the last 12 months, deseasonalised

    @property
    def months(self) -> int:
        """Months of history (from the first month with data)."""
        return self.cutoff - self.first

    def estimate(self, index: int, growth: Decimal) -> Decimal:
        """The model's value for a month, with an annual ``growth`` from the last 12 months."""
        centre = Fraction(2 * self.cutoff - 12, 2)  # the mean position of the last 12 months
        years = (Fraction(index) + Fraction(1, 2) - centre) / 12
        factor = _power(Decimal(1) + growth, years)
        return self.level * factor * self.indices.get(index % 12 + 1, Decimal(1))


def _power(base: Decimal, exponent: Fraction) -> Decimal:
    if base <= 0:
        return Decimal(0)
    return Decimal(str(math.exp(float(exponent) * math.log(float(base)))))


def seasonal_model(history: Mapping[int, Decimal], *, cutoff: int) -> SeasonalModel | None:
    """Fit the model on monthly values (month index -> value) before ``cutoff``.

    Seasonal index of month m: the mean over the history of value / centred 12-month
    moving average (the classical ratio-to-moving-average method), normalised to a mean
    of 1; months the history cannot teach (less than 13 months around them) get 1.
    Trend: the last 12 months over the 12 before (needs 24 months of history).
    None without any data.
    """
    present = [m for m, v in history.items() if m < cutoff and v != 0]
    if not present:
        return None
    first = min(present)
    series = {m: history.get(m, Decimal(0)) for m in range(first, cutoff)}
    ratios: dict[int, list[Decimal]] = {}
    for t in range(first + 6, cutoff - 6):
        cma = (
            series[t - 6] / 2
            + sum((series[t + k] for k in range(-5, 6)), Decimal(0))
            + series[t + 6] / 2
        ) / 12
        if cma > 0:
            ratios.setdefault(t % 12 + 1, []).append(series[t] / cma)
    raw = {m: sum(rs, Decimal(0)) / len(rs) for m, rs in ratios.items()}
    if len(raw) == 12:
        mean = sum(raw.values(), Decimal(0)) / 12
        indices = {m: v / mean for m, v in raw.items()} if mean > 0 else {}
    else:
        indices = {}  # an index from part of a year would not average to 1: none
    window = range(max(first, cutoff - 12), cutoff)
    last12 = sum((series[m] for m in window), Decimal(0))
    previous12 = None
    growth = None
    if cutoff - first >= 24:
        previous12 = sum((series[m] for m in range(cutoff - 24, cutoff - 12)), Decimal(0))
        if previous12 > 0:
            growth = last12 / previous12 - 1
    # Level: the mean deseasonalised month of the last (up to) 12 months.
    deseason = [
        series[m] / indices[m % 12 + 1] if indices.get(m % 12 + 1) else series[m] for m in window
    ]
    level = sum(deseason, Decimal(0)) / len(deseason)
    return SeasonalModel(
        first=first,
        cutoff=cutoff,
        indices=indices,
        index_months={m: len(rs) for m, rs in ratios.items()} if indices else {},
        growth=growth,
        last12=last12,
        previous12=previous12,
        level=level,
    )


@dataclass(frozen=True, slots=True)
class Flag:
    """Something the planner should know about a suggestion or a plan."""

    code: str
    message: Msg


@dataclass
class Suggestion:
    """Suggested baseline, target and stretch, with the reasoning as data."""

    baseline: Decimal | None
    target: Decimal | None
    stretch: Decimal | None
    reasoning: dict[str, Any]
    steps: list[Msg]
    flags: list[Flag] = field(default_factory=list)


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def period_months(period: Period) -> list[int]:
    """Month indexes a period covers (a week: the month of its Thursday)."""
    if period.kind == "week":
        return [month_index(period.start + timedelta(days=3))]
    return list(range(month_index(period.start), month_index(period.end)))


@dataclass
class _Account:
    """What a suggestion says about itself while it is worked out: reasoning, steps, flags."""

    reasoning: dict[str, Any]
    currency: str | None = None
    steps: list[Msg] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def value(self, v: Decimal) -> Any:
        """A value of the KPI as a message shows it (money when it counts an amount)."""
        return amount(v, self.currency)

    def capped(self, what: str) -> None:
        """Record that a cap was applied to ``what``."""
        self.reasoning["caps"]["applied"].append(what)


def suggest_additive(
    *,
    history: Mapping[int, Decimal],
    cutoff: int,
    period: Period,
    week_share: Decimal | None,
    growth: Decimal | None,
    direction: str,
    places: int,
    cap: Decimal = DEFAULT_CAP,
    margin: Decimal = DEFAULT_MARGIN,
    uplift: Decimal = DEFAULT_UPLIFT,
    currency: str | None = None,
) -> Suggestion:
    """Suggest values for a sum or count KPI from monthly history (see the module docstring).

    * baseline: what history projects, the trend growth capped at ``cap`` a year;
    * target: the same period last year x (1 + ``growth``) when a growth goal is given
      (capped at ``cap``), else the baseline;
    * stretch: the better of baseline and target, ``uplift`` further (within the cap).

    ``week_share`` is the week's share of its month (working days) for week periods.
    Lower-is-better KPIs apply growth as a reduction. ``currency``: the KPI's values are
    amounts of it (the steps show them as money).
    """
    sign = Decimal(-1) if direction == "lower" else Decimal(1)
    model = seasonal_model(history, cutoff=cutoff)
    months = period_months(period)
    factor = week_share if period.kind == "week" and week_share is not None else Decimal(1)
    account = _Account(
        reasoning={
            "method": "seasonal_model",  # level x trend x seasonal index (ratio to moving avg)
            "history": None,
            "seasonality": None,
            "trend": None,
            "last_year": None,
            "growth_goal": None,
            "caps": {"growth_cap": str(cap), "history_margin": str(margin), "applied": []},
        },
        currency=currency,
    )
    if model is None:
        account.flags.append(Flag("no_history", msg("suggestions.flag.no_history")))
        return Suggestion(
            None, None, None, account.reasoning, [msg("suggestions.step.no_history")], account.flags
        )
    _explain_history(model, account)
    _explain_seasonality(model, period, months, factor, account)
    applied_trend = _trend(model.growth, cap, account)
    projected = sum((model.estimate(m, applied_trend) for m in months), Decimal(0)) * factor
    basis = _last_year(model, history, months, applied_trend, factor, places, account)
    baseline = projected
    account.steps.append(
        msg(
            "suggestions.step.baseline",
            value=account.value(_round(projected, places)),
            period=period_name(period.key),
        )
    )
    target = baseline
    if growth is not None:
        target = _growth_goal(
            growth,
            basis=basis,
            trend=model.growth,
            sign=sign,
            cap=cap,
            margin=margin,
            places=places,
            account=account,
        )
    else:
        account.steps.append(msg("suggestions.step.target_no_goal"))
    stretch = _stretch(
        baseline,
        target,
        basis=basis,
        sign=sign,
        cap=cap,
        uplift=uplift,
        places=places,
        account=account,
    )
    # Order: baseline <= target <= stretch (reversed when lower is better).
    baseline = min(baseline, target) if sign > 0 else max(baseline, target)
    return Suggestion(
        _round(baseline, places),
        _round(target, places),
        _round(stretch, places),
        account.reasoning,
        account.steps,
        account.flags,
    )


def _explain_history(model: SeasonalModel, account: _Account) -> None:
    """The span of history the model learned from (flagged under 12 months)."""
    account.reasoning["history"] = {
        "from": month_start(model.first).isoformat(),
        "to": (month_start(model.cutoff) - timedelta(days=1)).isoformat(),
        "months": model.months,
        "last_12_months": str(model.last12),
        "previous_12_months": None if model.previous12 is None else str(model.previous12),
    }
    if model.months < 12:
        account.flags.append(
            Flag(
                "insufficient_history",
                msg("suggestions.flag.insufficient_history", months=model.months),
            )
        )
    account.steps.append(
        msg(
            "suggestions.step.history",
            start=period_name(f"{month_start(model.first):%Y-%m}"),
            end=period_name(f"{month_start(model.cutoff - 1):%Y-%m}"),
            months=model.months,
            last12=account.value(model.last12),
        )
    )


def _explain_seasonality(
    model: SeasonalModel, period: Period, months: Sequence[int], factor: Decimal, account: _Account
) -> None:
    """The seasonal indices and the period's share of a year."""
    share = (
        sum((model.indices.get(m % 12 + 1, Decimal(1)) for m in months), Decimal(0)) / 12 * factor
    )
    account.reasoning["seasonality"] = {
        "indices": {f"{m:02d}": str(_round(v, 4)) for m, v in sorted(model.indices.items())},
        "period_months": [month_start(m).strftime("%Y-%m") for m in months],
        "period_share_of_year": str(_round(share, 4)),
        "week_share_of_month": None if period.kind != "week" else str(_round(factor, 4)),
        "learned": bool(model.indices),
    }
    if model.indices:
        shown = [
            msg(
                "suggestions.season_index",
                month=period_name(f"{month_start(m):%Y-%m}"),
                index=_round(model.indices[m % 12 + 1], 2),
            )
            for m in months
        ]
        account.steps.append(
            msg(
                "suggestions.step.seasonality",
                period=period_name(period.key),
                share=Pct(share),
                indices=shown,
            )
        )
    else:
        account.steps.append(msg("suggestions.step.seasonality_none"))


def _trend(trend: Decimal | None, cap: Decimal, account: _Account) -> Decimal:
    """The annual growth the projection applies: history's trend within ±``cap`` (0 without)."""
    applied_trend = trend if trend is not None else Decimal(0)
    if trend is not None and trend > cap:
        applied_trend = cap
        account.capped("trend")
    elif trend is not None and trend < -cap:
        applied_trend = -cap
        account.capped("trend")
    account.reasoning["trend"] = {
        "growth": None if trend is None else str(_round(trend, 4)),
        "applied": str(_round(applied_trend, 4)),
        "basis": "last_12_months_over_previous_12",
    }
    account.steps.append(_trend_step(trend, applied_trend))
    return applied_trend


def _trend_step(trend: Decimal | None, applied: Decimal) -> Msg:
    """The trend as a step: growth or decline a year, and the cap when one applied."""
    if trend is None:
        return msg("suggestions.step.trend_none")
    way = "up" if trend >= 0 else "down"
    if applied != trend:
        return msg(
            f"suggestions.step.trend_{way}_capped", trend=Pct(abs(trend)), cap=Pct(abs(applied))
        )
    return msg(f"suggestions.step.trend_{way}", trend=Pct(abs(trend)))


def _last_year(
    model: SeasonalModel,
    history: Mapping[int, Decimal],
    months: Sequence[int],
    applied_trend: Decimal,
    factor: Decimal,
    places: int,
    account: _Account,
) -> Decimal:
    """The same period last year, the basis of a growth goal: actual if history covers it
    (and it is above zero), else the model's."""
    last_year_months = [m - 12 for m in months]
    ly_raw = None
    if all(model.first <= m < model.cutoff for m in last_year_months):
        ly_raw = sum((history.get(m, Decimal(0)) for m in last_year_months), Decimal(0)) * factor
    ly_model = (
        sum((model.estimate(m, applied_trend) for m in last_year_months), Decimal(0)) * factor
    )
    basis = ly_raw if ly_raw is not None and ly_raw > 0 else ly_model
    account.reasoning["last_year"] = {
        "months": [month_start(m).strftime("%Y-%m") for m in last_year_months],
        "actual": None if ly_raw is None else str(_round(ly_raw, places)),
        "modelled": str(_round(ly_model, places)),
        "basis": "actual" if basis is ly_raw else "modelled",
    }
    return basis


def _growth_goal(
    growth: Decimal,
    *,
    basis: Decimal,
    trend: Decimal | None,
    sign: Decimal,
    cap: Decimal,
    margin: Decimal,
    places: int,
    account: _Account,
) -> Decimal:
    """The target of a growth goal: last year x (1 + growth), growth capped at ``cap``;
    flagged when the goal is beyond history's trend by more than ``margin``."""
    applied_growth = growth
    if growth > cap:
        applied_growth = cap
        account.capped("growth_goal")
        account.flags.append(
            Flag(
                "growth_above_cap",
                msg("suggestions.flag.growth_above_cap", growth=Pct(growth), cap=Pct(cap)),
            )
        )
    target = basis * (1 + sign * applied_growth)
    account.reasoning["growth_goal"] = {
        "requested": str(growth),
        "applied": str(applied_growth),
        "on": str(_round(basis, places)),
    }
    account.steps.append(
        msg(
            "suggestions.step.target_down"
            if sign * applied_growth < 0
            else "suggestions.step.target_up",
            basis=account.value(_round(basis, places)),
            growth=Pct(abs(applied_growth)),
            target=account.value(_round(target, places)),
        )
    )
    beyond = growth - max(trend or Decimal(0), Decimal(0))
    if beyond > margin:
        points = {"points": _round(beyond * 100, 1), "margin": _round(margin * 100, 1)}
        account.flags.append(
            Flag(
                "growth_beyond_history",
                msg(
                    "suggestions.flag.growth_beyond_history",
                    growth=Pct(growth),
                    trend=Pct(trend),
                    **points,
                )
                if trend is not None
                else msg("suggestions.flag.growth_beyond_no_trend", growth=Pct(growth), **points),
            )
        )
    return target


def _stretch(
    baseline: Decimal,
    target: Decimal,
    *,
    basis: Decimal,
    sign: Decimal,
    cap: Decimal,
    uplift: Decimal,
    places: int,
    account: _Account,
) -> Decimal:
    """The better of baseline and target, ``uplift`` further, not beyond last year + cap."""
    better = max(baseline, target) if sign > 0 else min(baseline, target)
    stretch = better * (1 + sign * uplift)
    ceiling = basis * (1 + cap) if sign > 0 else None
    if ceiling is not None and basis > 0 and stretch > ceiling and better <= ceiling:
        stretch = ceiling
        account.capped("stretch")
    account.steps.append(
        msg(
            "suggestions.step.stretch_down" if sign < 0 else "suggestions.step.stretch_up",
            value=account.value(_round(better, places)),
            uplift=Pct(uplift),
            stretch=account.value(_round(stretch, places)),
        )
    )
    return stretch


def suggest_ratio(
    *,
    trailing: Decimal | None,
    trailing_sample: int,
    last_year: Decimal | None,
    growth: Decimal | None,
    direction: str,
    unit: str,
    cap: Decimal = DEFAULT_CAP,
    uplift: Decimal = DEFAULT_UPLIFT,
) -> Suggestion:
    """Suggest values for a ratio or average KPI: the last 12 months' value, improved.

    Ratios do not add up over months, so there is no seasonal sum: the baseline is the
    ratio over the last 12 months; growth is a relative improvement (down when lower is
    better); ratios stay within [0, 1].
    """
    reasoning: dict[str, Any] = {
        "method": "last_12_months",  # numerator and denominator summed over 12 months
        "last_12_months": None if trailing is None else str(_round(trailing, 4)),
        "sample": trailing_sample,
        "last_year_same_period": None if last_year is None else str(_round(last_year, 4)),
        "growth_goal": None if growth is None else str(growth),
        "caps": {"growth_cap": str(cap), "applied": []},
    }
    if trailing is None:
        return Suggestion(
            None,
            None,
            None,
            reasoning,
            [msg("suggestions.step.no_history")],
            [Flag("no_history", msg("suggestions.flag.no_history"))],
        )
    sign = Decimal(-1) if direction == "lower" else Decimal(1)
    applied = growth if growth is not None else Decimal(0)
    flags = []
    if applied > cap:
        applied = cap
        reasoning["caps"]["applied"].append("growth_goal")
        flags.append(
            Flag("growth_above_cap", msg("suggestions.flag.ratio_above_cap", cap=Pct(cap)))
        )
    target = trailing * (1 + sign * applied)
    stretch = target * (1 + sign * uplift)
    if unit == "ratio":
        target, stretch = min(target, Decimal(1)), min(stretch, Decimal(1))

    def shown(v: Decimal) -> Any:
        return Pct(v) if unit == "ratio" else _round(v, 4)

    way = "down" if sign * applied < 0 else "up"
    steps = [
        msg("suggestions.step.ratio_baseline", value=shown(trailing), sample=trailing_sample),
        msg(f"suggestions.step.ratio_target_{way}", growth=Pct(abs(applied)), target=shown(target)),
        msg(
            f"suggestions.step.ratio_stretch_{'down' if sign < 0 else 'up'}",
            uplift=Pct(uplift),
            stretch=shown(stretch),
        ),
    ]
    return Suggestion(
        _round(trailing, 4), _round(target, 4), _round(stretch, 4), reasoning, steps, flags
    )
