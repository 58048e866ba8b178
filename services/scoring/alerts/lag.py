"""Lag warnings: targets of current periods that fall behind, with hysteresis.

For each target whose period contains today (tenant-local), progress comes from
:func:`paceline.shared.readmodel.progress.evaluate`, the same numbers the progress API shows. The
observed level is the better of "as of now" and "as of the start of today": progress
counts today's whole expected share from midnight on, so the morning alone would make
every rep near the line look behind until their first visit (a daily flap).

Levels: 0 on track or ahead, 1 behind (warning), 2 at risk (critical). A change of level
(raise, escalate, de-escalate, resolve) needs ``lag_confirmations`` observations in a row
in distinct schedule slots (``lag_every_minutes``); observations within one slot (event-
driven re-evaluations) replace each other rather than adding up. That state machine is
pure (:mod:`.lag_machine`); :func:`_observe` stores its state and carries out its
actions. Nothing is raised before ``min_elapsed_share`` of the period's working days has
passed. A count KPI is not judged while its expected-to-date is below
``lag_min_expected``, and counts as on track while its shortfall is within
``lag_noise_z`` counting-noise deviations. Alerts of periods that ended are resolved
(note ``alerts.note.period_ended``) with their final numbers. Titles are catalog messages
with the rep's or team's name, the KPI's name, the period, the amounts and the pace.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import repository as repo
from paceline.scoring.alerts.lag_machine import LagState, observe
from paceline.scoring.alerts.words import kpi_name, period_label, value_of
from paceline.shared.alert_options import AlertOptions
from paceline.shared.db import lifecycle
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Target, Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import Msg, Pct, msg
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.periods import parse_period
from paceline.shared.readmodel.evaluation import fmt4
from paceline.shared.readmodel.progress import ProgressResult, evaluate
from paceline.shared.readmodel.scopes import parse_scope

LEVELS = {"ahead": 0, "on_track": 0, "behind": 1, "at_risk": 2}
SEVERITY = {1: "warning", 2: "critical"}
STATUS_OF = {0: "on_track", 1: "behind", 2: "at_risk"}


def dedup_key(target_id: int) -> str:
    """The dedup key of a target's lag warning."""
    return f"lag:{target_id}"


def slot_of(now: datetime, tz: ZoneInfo, minutes: int) -> str:
    """The schedule slot an instant falls in (tenant-local)."""
    local = now.astimezone(tz)
    index = (local.hour * 60 + local.minute) // minutes
    return f"{local.date().isoformat()}#{index}"


def _detail(target: Target, result: ProgressResult, level: int) -> dict[str, Any]:
    pace = result.pace
    return {
        "target_id": target.id,
        "kpi": target.kpi,
        "scope": target.scope,
        "period": target.period,
        "period_end": target.end.isoformat(),
        "status": STATUS_OF[level],
        "actual": fmt4(result.value.value),
        "target": result.version.target if result.version is not None else None,
        "expected": fmt4(pace.expected) if pace else None,
        "pace": fmt4(pace.pace) if pace else None,
        "projection": fmt4(pace.projection_linear) if pace else None,
        "elapsed_share": fmt4(pace.elapsed_share) if pace else None,
        "as_of": result.as_of.isoformat(),
    }


def _title(
    target: Target,
    result: ProgressResult,
    level: int,
    *,
    scope: str | Msg | None = None,
    currency: str = "CNY",
) -> Msg:
    """The warning's title: who (``scope``: the rep's or team's name), which KPI (its
    name), which period, and how far behind — done so far against the expected-to-date,
    and the pace. Pace is direction-aware (below 100% is worse than expected for every
    KPI); a lower-is-better KPI back at 0 has none to show."""
    pace = result.pace
    params: dict[str, Any] = {
        "scope": scope if scope is not None else target.scope,
        "kpi": kpi_name(result.kpi, target.kpi),
        "period": period_label(target.period),
    }
    if pace is None or pace.pace is None:
        if level == 2:
            return msg("alerts.lag.at_risk_no_pace", **params)
        if level == 1:
            return msg("alerts.lag.behind_no_pace", **params)
        return msg("alerts.lag.on_track", **params)
    params["pace"] = Pct(pace.pace)
    actual = value_of(result.kpi, result.value.value, currency)
    expected = value_of(result.kpi, pace.expected, currency)
    if actual is None or expected is None:
        if level == 2:
            return msg("alerts.lag.at_risk_pace", **params)
        if level == 1:
            return msg("alerts.lag.behind_pace", **params)
        return msg("alerts.lag.on_track_pace", **params)
    params.update(actual=actual, expected=expected)
    if result.kpi.direction == "lower":  # a ceiling: "5 hours, at most 4 by now"
        if level == 2:
            return msg("alerts.lag.at_risk_lower", **params)
        if level == 1:
            return msg("alerts.lag.behind_lower", **params)
        return msg("alerts.lag.on_track_lower", **params)
    if level == 2:
        return msg("alerts.lag.at_risk", **params)
    if level == 1:
        return msg("alerts.lag.behind", **params)
    return msg("alerts.lag.on_track_numbers", **params)


@dataclass(slots=True)
class LagOutcome:
    """What one lag evaluation did."""

    evaluated: int = 0
    raised: int = 0
    resolved: int = 0


def _too_few(kpi: KpiDefinition, result: ProgressResult, options: AlertOptions) -> bool:
    """A count expected to be below ``lag_min_expected`` by now is not judged: one new
    customer of an expected two is 50% of the pace and says nothing about the rep."""
    expected = result.pace.expected if result.pace is not None else None
    return (
        kpi.unit == "count"
        and expected is not None
        and expected < Decimal(str(options.lag_min_expected))
    )


def _within_noise(kpi: KpiDefinition, result: ProgressResult, options: AlertOptions) -> bool:
    """A count whose shortfall is within ``lag_noise_z`` counting-noise deviations
    (sqrt(expected), the Poisson standard deviation) is not evidence of a lag: twelve
    quotes of an expected 13.2 is "91% of the pace" and is what a steady rep logs by
    chance. Only counts: money and ratios have no such natural scale."""
    pace = result.pace
    actual = result.value.value
    if kpi.unit != "count" or pace is None or pace.expected is None or actual is None:
        return False
    expected = max(pace.expected, Decimal(0))
    gap = expected - actual if kpi.direction == "higher" else actual - expected
    return gap <= Decimal(str(options.lag_noise_z)) * expected.sqrt()


async def evaluate_lag(
    session: AsyncSession,
    *,
    tenant: Tenant,
    now: datetime,
    calendar: WorkCalendar,
    options: AlertOptions,
    reps: Collection[str] | None = None,
) -> LagOutcome:
    """Judge the targets of current periods (only ``reps``' and team/company ones if given)."""
    tz = ZoneInfo(tenant.timezone)
    today = now.astimezone(tz).date()
    midnight = datetime.combine(today, time(0), tzinfo=tz)
    slot = slot_of(now, tz, options.lag_every_minutes)
    out = LagOutcome()
    for target in await repo.current_targets(session, tenant_id=tenant.id, day=today):
        scope = parse_scope(target.scope)
        if reps is not None and scope.kind == "rep" and scope.id not in reps:
            continue
        kpi = await find_kpi(session, tenant_id=tenant.id, key=target.kpi)
        if kpi is None:
            continue
        period = parse_period(target.period, fiscal_year_start_month=tenant.fiscal_year_start_month)
        total = calendar.working_days(period.start, period.end)
        elapsed = calendar.working_days(period.start, today + timedelta(days=1))
        if total <= 0 or Decimal(elapsed) / Decimal(total) < Decimal(
            str(options.min_elapsed_share)
        ):
            continue
        try:
            result = await evaluate(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=scope,
                period=period,
                as_of=now,
                calendar=calendar,
            )
        except NotFound:  # a scope that vanished from the org chart: nothing to judge
            continue
        level = LEVELS.get(result.status)
        if level is None or _too_few(kpi, result, options):
            continue
        if level > 0 and midnight > period.start_instant(tz):
            earlier = await evaluate(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=scope,
                period=period,
                as_of=midnight,
                calendar=calendar,
            )
            other = LEVELS.get(earlier.status)
            if other is not None and other < level:
                level, result = other, earlier
        if level > 0 and _within_noise(kpi, result, options):
            level = 0
        out.evaluated += 1
        changed = await _observe(
            session,
            tenant=tenant,
            target=target,
            result=result,
            level=level,
            slot=slot,
            options=options,
            now=now,
        )
        if changed == "raised":
            out.raised += 1
        elif changed == "resolved":
            out.resolved += 1
    return out


async def _observe(
    session: AsyncSession,
    *,
    tenant: Tenant,
    target: Target,
    result: ProgressResult,
    level: int,
    slot: str,
    options: AlertOptions,
    now: datetime,
) -> str | None:
    """Feed one observed level to the target's hysteresis (:mod:`.lag_machine`) and carry
    out what it confirms; ``"raised"``, ``"resolved"`` or None."""
    key = dedup_key(target.id)
    before = LagState.load(await repo.get_state(session, tenant_id=tenant.id, key=key))
    step = observe(before, level=level, slot=slot, confirmations=options.lag_confirmations)
    change = None
    if step.action == "resolve":
        await lifecycle.resolve_alerts(
            session,
            tenant_id=tenant.id,
            dedup_keys=[key],
            now=now,
            note=msg("alerts.note.back_on_track"),
        )
        change = "resolved"
    elif step.action == "raise":
        new = step.state.level
        await lifecycle.raise_alert(
            session,
            tenant_id=tenant.id,
            kind="lag",
            type="lag",
            dedup_key=key,
            scope=target.scope,
            severity=SEVERITY[new],
            title=_title(
                target,
                result,
                new,
                scope=await lifecycle.scope_name(session, tenant_id=tenant.id, scope=target.scope),
                currency=tenant.currency,
            ),
            detail=_detail(target, result, new),
            now=now,
            count=False,
        )
        change = "raised"
    if step.state != before:
        await repo.put_state(
            session, tenant_id=tenant.id, key=key, state=step.state.dump(), now=now
        )
    return change


async def close_ended(session: AsyncSession, *, tenant: Tenant, now: datetime) -> int:
    """Resolve lag warnings of periods that have ended; how many."""
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    keys = []
    for alert in await repo.open_alerts(session, tenant_id=tenant.id, types=["lag"]):
        end = (alert.detail or {}).get("period_end")
        if end is not None and date.fromisoformat(str(end)) <= today:
            keys.append(alert.dedup_key)
    await lifecycle.resolve_alerts(
        session,
        tenant_id=tenant.id,
        dedup_keys=keys,
        now=now,
        note=msg("alerts.note.period_ended"),
    )
    for key in keys:
        await repo.put_state(session, tenant_id=tenant.id, key=key, state={}, now=now)
    return len(keys)
