"""Anomaly flags, judged once per closed working day (tenant-local, work calendar).

* **per rep x KPI** (``anomaly_kpis``, counts): :class:`~.stats.PoissonDetector` on the
  rep's working-day series (from the rep's first count of the KPI in the history window:
  days before a rep started are not zeros of theirs): short windows against the 40
  working days before them, and the sustained test (``anomaly_window_days`` against the
  60 before them) from the same series, so one read of daily facts per KPI and day
  judged, reaching back as far as the sustained test needs; with persistence kept in
  ``alert_eval_state``. A drop is not raised while (or shortly after) the rep is flagged
  silent, a spike not while the same days are flagged as a burst or duplicates: the more
  specific flag already says it.
* **a rep gone silent**: no logged event at all for ``silent_min_days`` working days or
  more, when the rep's usual share ``p`` of active days makes that run unlikely:
  ``(1 - p) ** run < silent_alpha`` (``p`` with a +1/+2 prior, from up to 40 working
  days before the run). Resolved as soon as the rep logs anything.
* **a complaint spike** (company): complaints over the last ``complaint_window_days``
  working days against the robust baseline, upper Poisson tail, at least
  ``complaint_min`` complaints.
* **an end-of-period surge of won deals (冲单)**: on a month's last working day, a rep's
  deals won in its last ``surge_last_days`` working days against the rep's usual rate
  from the working days before, upper Poisson tail, at least ``surge_min_deals``.

**Several days at once** (a first run, history imported, a catch-up): the engine judges
them in order and only the last working day is *announced* (``announce=True``). The
days before it only advance each series' persistence state; the announced day then
raises or resolves what the state says holds now (the state remembers which direction
was last alerted, ``alerted``), and judges silence and complaint spikes, which need no
history of verdicts. An episode that began and ended within the days judged at once
raises nothing. Month-end surges are judged on every day: each is its own month's episode.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import repository as repo
from paceline.scoring.alerts.stats import (
    Persistence,
    PoissonDetector,
    poisson_sf,
    robust_rate,
)
from paceline.scoring.alerts.words import kpi_name, number, period_label
from paceline.shared.alert_options import AlertOptions
from paceline.shared.db import lifecycle
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Tenant
from paceline.shared.i18n import msg
from paceline.shared.kpi.calendar import WorkCalendar

HISTORY_CALENDAR_DAYS = 120  # at least: silence, complaint and surge baselines fit in it
SUPPRESS_DAYS = 35  # calendar days a silence or burst keeps explaining a drop or spike


def detector_for(options: AlertOptions) -> PoissonDetector:
    """The detector with the tenant's tunables."""
    return PoissonDetector(
        alpha=options.anomaly_alpha,
        persistence=options.anomaly_persistence,
        min_expected=options.anomaly_min_expected,
        window_days=options.anomaly_window_days,
    )


def history_days(day: date, calendar: WorkCalendar, detector: PoissonDetector) -> list[date]:
    """The working days read to judge ``day`` (the last of them): those of the last
    HISTORY_CALENDAR_DAYS, or more if the sustained test's window and baseline need more."""
    days = calendar.working_day_list(
        day - timedelta(days=HISTORY_CALENDAR_DAYS), day + timedelta(days=1)
    )
    need = detector.window_days + detector.window_baseline_days + 1
    if len(days) < need:
        wider = day - timedelta(days=2 * need + 30)  # holidays and weekends included
        days = calendar.working_day_list(wider, day + timedelta(days=1))[-need:]
    return days


async def evaluate_day(
    session: AsyncSession,
    *,
    tenant: Tenant,
    day: date,
    calendar: WorkCalendar,
    options: AlertOptions,
    now: datetime,
    announce: bool = True,
) -> None:
    """Judge one closed working day (``announce=False``: only advance the states)."""
    detector = detector_for(options)
    days = history_days(day, calendar, detector)
    if not days or days[-1] != day:
        return
    recent: dict[str, set[str]] | None = None
    if announce:
        await _silent_reps(session, tenant=tenant, days=days, options=options, now=now)
        recent = await _recent_explanations(session, tenant=tenant, now=now)
    for kpi in options.anomaly_kpis:
        await _rep_anomalies(
            session, tenant=tenant, kpi=kpi, days=days, detector=detector, recent=recent, now=now
        )
    if announce:
        await _complaint_spike(session, tenant=tenant, days=days, options=options, now=now)
    await _period_end_surge(
        session, tenant=tenant, days=days, calendar=calendar, options=options, now=now
    )


async def _recent_explanations(
    session: AsyncSession, *, tenant: Tenant, now: datetime
) -> dict[str, set[str]]:
    """rep -> {"silent", "burst"}: flags that explain a drop or a spike right now."""
    out: dict[str, set[str]] = {}
    horizon = now - timedelta(days=SUPPRESS_DAYS)
    for alert in await repo.alerts_of_types(
        session,
        tenant_id=tenant.id,
        types=["rep_silent", "burst", "duplicate_visit"],
        since=horizon,
    ):
        rep = alert.scope.removeprefix("rep:")
        out.setdefault(rep, set()).add("silent" if alert.type == "rep_silent" else "burst")
    return out


async def _silent_reps(
    session: AsyncSession, *, tenant: Tenant, days: list[date], options: AlertOptions, now: datetime
) -> None:
    active = await repo.active_days(
        session, tenant_id=tenant.id, start=days[0], end=days[-1] + timedelta(days=1)
    )
    reps = sorted(set(await repo.active_reps(session, tenant_id=tenant.id)) | set(active))
    back = []
    for rep in reps:
        seen = active.get(rep, set())
        key = f"rep_silent:{rep}"
        run = 0
        for d in reversed(days):
            if d in seen:
                break
            run += 1
        if run == 0:
            back.append(key)
            continue
        before = days[: len(days) - run]
        first = min(seen) if seen else None
        history = [d for d in before[-40:] if first is not None and d >= first]
        if run < options.silent_min_days or len(history) < 10:
            continue
        p = (sum(1 for d in history if d in seen) + 1) / (len(history) + 2)
        chance = (1 - p) ** run
        if chance >= options.silent_alpha:
            continue
        since = days[len(days) - run]
        await lifecycle.raise_alert(
            session,
            tenant_id=tenant.id,
            kind="anomaly",
            type="rep_silent",
            dedup_key=key,
            scope=f"rep:{rep}",
            severity="warning",
            title=msg(
                "alerts.anomaly.rep_silent",
                rep=await lifecycle.rep_name(session, tenant_id=tenant.id, rep_id=rep),
                days=run,
                since=since,
            ),
            detail={
                "rep_id": rep,
                "idle_working_days": run,
                "since": since.isoformat(),
                "usual_active_share": round(p, 3),
                "chance": float(f"{chance:.3g}"),
            },
            now=now,
            count=False,
        )
    await lifecycle.resolve_alerts(
        session,
        tenant_id=tenant.id,
        dedup_keys=back,
        now=now,
        note=msg("alerts.note.rep_logs_again"),
    )


async def resolve_silent(
    session: AsyncSession, *, tenant_id: str, reps: set[str], now: datetime
) -> None:
    """A rep who logs anything is no longer silent."""
    await lifecycle.resolve_alerts(
        session,
        tenant_id=tenant_id,
        dedup_keys=[f"rep_silent:{r}" for r in sorted(reps)],
        now=now,
        note=msg("alerts.note.rep_logs_again"),
    )


async def _rep_anomalies(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: str,
    days: list[date],
    detector: PoissonDetector,
    recent: dict[str, set[str]] | None,
    now: datetime,
) -> None:
    """Advance each rep's persistence state; with ``recent`` (announced), alert on it."""
    counts = await repo.daily_counts(
        session, tenant_id=tenant.id, kpi=kpi, start=days[0], end=days[-1] + timedelta(days=1)
    )
    stored = await repo.states(session, tenant_id=tenant.id, prefix=f"anomaly:{kpi}:")
    reps = sorted(set(counts) | {k.split(":", 2)[2] for k in stored})
    weekdays = [d.isoweekday() for d in days]
    for rep in reps:
        series = [counts.get(rep, {}).get(d, 0) for d in days]
        start = next((i for i, c in enumerate(series) if c), len(series) - 1)
        verdict = detector.assess(series[start:], weekdays[start:], len(days) - 1 - start)
        key = f"anomaly:{kpi}:{rep}"
        raw = stored.get(key, {})
        state = Persistence.from_json(raw, detector.persistence)
        # The direction last alerted (or handled); states from before this field was kept
        # were alerted on every change, so their active direction.
        alerted = raw.get("alerted", state.active)
        alerted = alerted if isinstance(alerted, str) else None
        # The evidence of the latest flagged day (an alert raised on a day whose own
        # verdict is clean, the persistence still holding, cites it).
        evidence = raw.get("evidence")
        if verdict.direction is not None:
            evidence = {"day": days[-1].isoformat(), **verdict.as_dict()}
        state.step(verdict.direction)
        if recent is not None and state.active != alerted:
            await _alert_direction(
                session,
                tenant=tenant,
                kpi=kpi,
                rep=rep,
                direction=state.active,
                explained=recent.get(rep, set()),
                evidence=evidence if isinstance(evidence, dict) else {},
                now=now,
            )
            alerted = state.active
        new = {**state.to_json(), "alerted": alerted, "evidence": evidence}
        if key in stored or state.active is not None or state.streak:
            await repo.put_state(session, tenant_id=tenant.id, key=key, state=new, now=now)


async def _alert_direction(
    session: AsyncSession,
    *,
    tenant: Tenant,
    kpi: str,
    rep: str,
    direction: str | None,
    explained: set[str],
    evidence: dict[str, Any],
    now: datetime,
) -> None:
    """Bring a rep x KPI's alerts in line with the direction its state holds now."""
    keys = {d: f"anomaly:{kpi}:{rep}:{d}" for d in ("low", "high")}
    if direction is None:
        await lifecycle.resolve_alerts(
            session,
            tenant_id=tenant.id,
            dedup_keys=list(keys.values()),
            now=now,
            note=msg("alerts.note.back_to_usual"),
        )
        return
    other = "high" if direction == "low" else "low"
    await lifecycle.resolve_alerts(session, tenant_id=tenant.id, dedup_keys=[keys[other]], now=now)
    if (direction == "low" and "silent" in explained) or (
        direction == "high" and "burst" in explained
    ):
        return
    params = {
        "rep": await lifecycle.rep_name(session, tenant_id=tenant.id, rep_id=rep),
        "kpi": kpi_name(await find_kpi(session, tenant_id=tenant.id, key=kpi), kpi),
        "observed": evidence.get("observed") or 0,
        "window": evidence.get("window_days") or 0,
        "expected": number(float(evidence.get("expected") or 0)),
    }
    await lifecycle.raise_alert(
        session,
        tenant_id=tenant.id,
        kind="anomaly",
        type=f"anomaly_{direction}",
        dedup_key=keys[direction],
        scope=f"rep:{rep}",
        severity="warning",
        title=(
            msg("alerts.anomaly.low", **params)
            if direction == "low"
            else msg("alerts.anomaly.high", **params)
        ),
        detail={"rep_id": rep, "kpi": kpi, **evidence},
        now=now,
        count=False,
    )


async def _complaint_spike(
    session: AsyncSession, *, tenant: Tenant, days: list[date], options: AlertOptions, now: datetime
) -> None:
    per_rep = await repo.daily_counts(
        session,
        tenant_id=tenant.id,
        kpi="complaint_rate",
        start=days[0],
        end=days[-1] + timedelta(days=1),
    )
    series = [sum(r.get(d, 0) for r in per_rep.values()) for d in days]
    w = options.complaint_window_days
    base = series[:-w][-40:]
    key = "complaint_spike"
    if len(base) < 10:
        return
    mu = robust_rate([float(x) for x in base]) * w
    obs = sum(series[-w:])
    p = poisson_sf(obs, mu) if mu > 0 else (0.0 if obs > 0 else 1.0)
    if obs >= options.complaint_min and obs >= 2 * mu and p < options.anomaly_alpha:
        await lifecycle.raise_alert(
            session,
            tenant_id=tenant.id,
            kind="anomaly",
            type="complaint_spike",
            dedup_key=key,
            scope="company",
            severity="critical",
            title=msg(
                "alerts.anomaly.complaint_spike",
                observed=obs,
                window=w,
                expected=number(mu),
            ),
            detail={
                "kpi": "complaint_rate",
                "observed": obs,
                "expected": round(mu, 3),
                "window_days": w,
                "p_value": float(f"{p:.3g}"),
                "day": days[-1].isoformat(),
            },
            now=now,
            count=False,
        )
    elif obs < 1.5 * mu or obs < options.complaint_min:
        await lifecycle.resolve_alerts(
            session,
            tenant_id=tenant.id,
            dedup_keys=[key],
            now=now,
            note=msg("alerts.note.back_to_usual"),
        )


async def _period_end_surge(
    session: AsyncSession,
    *,
    tenant: Tenant,
    days: list[date],
    calendar: WorkCalendar,
    options: AlertOptions,
    now: datetime,
) -> None:
    day = days[-1]
    month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    if calendar.working_days(day + timedelta(days=1), month_end) > 0:
        return  # not the month's last working day
    k = options.surge_last_days
    counts = await repo.daily_counts(
        session, tenant_id=tenant.id, kpi="deals_won", start=days[0], end=day + timedelta(days=1)
    )
    month = day.strftime("%Y-%m")
    for rep, by_day in sorted(counts.items()):
        series = [by_day.get(d, 0) for d in days]
        base = series[:-k][-60:]
        obs = sum(series[-k:])
        if len(base) < 20 or obs < options.surge_min_deals:
            continue
        mu = robust_rate([float(x) for x in base]) * k
        p = poisson_sf(obs, mu) if mu > 0 else 0.0
        if obs >= 2 * mu and p < options.anomaly_alpha:
            await lifecycle.raise_alert(
                session,
                tenant_id=tenant.id,
                kind="anomaly",
                type="period_end_surge",
                dedup_key=f"period_end_surge:{rep}:{month}",
                scope=f"rep:{rep}",
                severity="warning",
                title=msg(
                    "alerts.anomaly.period_end_surge",
                    rep=await lifecycle.rep_name(session, tenant_id=tenant.id, rep_id=rep),
                    observed=obs,
                    days=k,
                    month=period_label(month),
                    expected=number(mu),
                ),
                detail={
                    "rep_id": rep,
                    "kpi": "deals_won",
                    "month": month,
                    "observed": obs,
                    "expected": round(mu, 3),
                    "p_value": float(f"{p:.3g}"),
                },
                now=now,
                reopen=False,
                count=False,
            )


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """The tenant-local date of an instant."""
    return now.astimezone(tz).date()
