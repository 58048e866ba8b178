"""Data-quality flags: bursts, duplicate visits, back- and future-dated events, stale
sources and pipeline lag (unknown reps are flagged by the facts service as it scores).

History (:func:`is_history`: imported, or marked ``backfill``) is late by design: it is
never flagged as back-dated. Future-dated history is flagged like any event.

The per-event checks read what is stored (the ``events`` table), not the batch alone, so
running them twice over the same events changes nothing: each flag is an *episode* keyed
by rep or source and tenant-local day, raised once (``reopen=False``: an episode a
manager resolved stays resolved), its detail merged with what was seen before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.alerts import repository as repo
from paceline.scoring.alerts.words import number
from paceline.shared.alert_options import AlertOptions
from paceline.shared.db import lifecycle
from paceline.shared.db.models import Event, Tenant
from paceline.shared.i18n import Msg, msg
from paceline.shared.import_report import IMPORT_SOURCE_PREFIX
from paceline.shared.kpi.calendar import WorkCalendar

BURST_TYPES = ("visit", "lead", "quote")
MAX_IDS = 50


def _merged_ids(existing: dict[str, Any] | None, ids: Sequence[str]) -> list[str]:
    old = list((existing or {}).get("events", []))
    return sorted(set(old) | set(ids))[:MAX_IDS]


async def _episode(
    session: AsyncSession,
    *,
    tenant_id: str,
    type: str,
    key: str,
    scope: str,
    title: Msg,
    detail: dict[str, Any],
    ids: Sequence[str],
    now: datetime,
    severity: str = "warning",
) -> None:
    existing = await lifecycle.find_alert(session, tenant_id=tenant_id, dedup_key=key)
    if existing is not None and existing.status == "resolved":
        return
    merged = _merged_ids(existing.detail if existing is not None else None, ids)
    count = max(int(detail.get("count", 0)), len(merged))
    if (
        existing is not None
        and set(merged) == set((existing.detail or {}).get("events", []))
        and int((existing.detail or {}).get("count", 0)) >= count
    ):
        return  # nothing new about this episode
    await lifecycle.raise_alert(
        session,
        tenant_id=tenant_id,
        kind="data_quality",
        type=type,
        dedup_key=key,
        scope=scope,
        severity=severity,
        title=title,
        detail={**detail, "count": count, "events": merged},
        now=now,
        reopen=False,
        count=False,
    )


def is_history(event: Event) -> bool:
    """Whether an event is history sent on purpose, not live activity.

    Events of a history import (source ``import:<name>``: ``POST /v1/imports``,
    ``paceline import``, the demo's history) and events marked ``backfill``. They raise no
    back-dated flag, and tell the anomaly judge to look at the recent past again.
    """
    return (
        event.source.startswith(IMPORT_SOURCE_PREFIX)
        or (event.payload or {}).get("backfill") is True
    )


async def check_events(
    session: AsyncSession,
    *,
    tenant: Tenant,
    events: Sequence[Event],
    options: AlertOptions,
    now: datetime,
) -> None:
    """Flag what the given (stored) events of one tenant reveal."""
    tz = ZoneInfo(tenant.timezone)
    dated: dict[tuple[str, str, str], list[Event]] = defaultdict(list)
    bursts: dict[tuple[str, str], list[datetime]] = defaultdict(list)  # (rep, type): times
    visits: set[tuple[str, str, str]] = set()
    for ev in events:
        lateness = ev.received_at - ev.occurred_at
        if lateness > timedelta(days=options.backdated_days):
            if not is_history(ev):  # history is late by design
                day = ev.received_at.astimezone(tz).date().isoformat()
                dated[("backdated", ev.source, day)].append(ev)
        elif -lateness > timedelta(minutes=options.future_minutes):
            day = ev.received_at.astimezone(tz).date().isoformat()
            dated[("future_dated", ev.source, day)].append(ev)
        if ev.type in BURST_TYPES:
            bursts[(ev.rep_id, ev.type)].append(ev.occurred_at)
        customer = (ev.payload or {}).get("customer_id")
        if ev.type == "visit" and customer:
            visits.add((ev.rep_id, str(customer), ev.occurred_at.astimezone(tz).date().isoformat()))
    for (kind, source, day), found in sorted(dated.items()):
        title = (
            msg(
                "alerts.quality.backdated",
                source=source,
                day=date.fromisoformat(day),
                days=options.backdated_days,
            )
            if kind == "backdated"
            else msg(
                "alerts.quality.future_dated",
                source=source,
                day=date.fromisoformat(day),
                minutes=options.future_minutes,
            )
        )
        await _episode(
            session,
            tenant_id=tenant.id,
            type=kind,
            key=f"{kind}:{source}:{day}",
            scope="company",
            title=title,
            detail={"source": source, "day": day, "count": len(found)},
            ids=[e.event_id for e in found],
            now=now,
        )
    # Both checks read what is stored around the batch's events, in one statement.
    window = timedelta(minutes=options.burst_minutes)
    burst_keys = sorted(bursts)
    windows: list[repo.Window] = []
    owners: list[int] = []  # per window: its burst key's index, or -1 for a visit triple
    for n, (rep, type_) in enumerate(burst_keys):
        # Grouped in the one pass above: scanning the page per key was quadratic (13% of
        # the deployed scoring process's samples with 500-event pages over 2,000 reps).
        for start, end in _merged_spans(sorted(bursts[(rep, type_)]), window):
            windows.append(repo.Window(rep, type_, start, end))
            owners.append(n)
    visit_keys = sorted(visits)
    burst_windows = len(windows)
    for rep, customer, day in visit_keys:
        start = datetime.combine(datetime.fromisoformat(day).date(), time(0), tzinfo=tz)
        windows.append(repo.Window(rep, "visit", start, start + timedelta(days=1), customer))
        owners.append(-1)
    in_windows = await repo.events_in_windows(session, tenant_id=tenant.id, windows=windows)
    near: list[list[repo.Brief]] = [[] for _ in burst_keys]
    for owner, briefs in zip(owners, in_windows, strict=True):
        if owner >= 0:
            near[owner].extend(briefs)  # windows are disjoint and in time order
    for (rep, type_), stored in zip(burst_keys, near, strict=True):
        await _check_burst(
            session,
            tenant=tenant,
            rep=rep,
            type_=type_,
            stored=stored,
            options=options,
            tz=tz,
            now=now,
        )
    for (rep, customer, day), briefs in zip(visit_keys, in_windows[burst_windows:], strict=True):
        await _check_duplicates(
            session,
            tenant=tenant,
            rep=rep,
            customer=customer,
            day=day,
            found=briefs,
            options=options,
            now=now,
        )


def _merged_spans(times: Sequence[datetime], window: timedelta) -> list[tuple[datetime, datetime]]:
    """[t - window, t + window] around each (sorted) time, overlapping spans merged.

    Any run of events no longer than ``window`` that holds one of the times lies inside
    one span, so a burst that a new event is part of is always found whole.
    """
    spans: list[tuple[datetime, datetime]] = []
    tick = timedelta(microseconds=1)  # spans end exclusive
    for t in times:
        start, end = t - window, t + window + tick
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


async def _check_burst(
    session: AsyncSession,
    *,
    tenant: Tenant,
    rep: str,
    type_: str,
    stored: Sequence[repo.Brief],
    options: AlertOptions,
    tz: ZoneInfo,
    now: datetime,
) -> None:
    window = timedelta(minutes=options.burst_minutes)
    live = [e for e in stored if not e.deleted]
    best: Sequence[repo.Brief] = []
    lo = 0
    for hi in range(len(live)):
        while live[hi].occurred_at - live[lo].occurred_at > window:
            lo += 1
        if hi - lo + 1 > len(best):
            best = live[lo : hi + 1]
    if len(best) < options.burst_count:
        return
    day = best[0].occurred_at.astimezone(tz).date().isoformat()
    await _episode(
        session,
        tenant_id=tenant.id,
        type="burst",
        key=f"burst:{rep}:{type_}:{day}",
        scope=f"rep:{rep}",
        title=msg(
            "alerts.quality.burst",
            rep=await lifecycle.rep_name(session, tenant_id=tenant.id, rep_id=rep),
            count=len(best),
            type=_event_noun(type_),
            minutes=options.burst_minutes,
            day=date.fromisoformat(day),
        ),
        detail={
            "rep_id": rep,
            "type": type_,
            "day": day,
            "count": len(best),
            "first": best[0].occurred_at.isoformat(),
            "last": best[-1].occurred_at.isoformat(),
        },
        ids=[e.event_id for e in best],
        now=now,
    )


async def _check_duplicates(
    session: AsyncSession,
    *,
    tenant: Tenant,
    rep: str,
    customer: str,
    day: str,
    found: Sequence[repo.Brief],
    options: AlertOptions,
    now: datetime,
) -> None:
    records: dict[str, repo.Brief] = {}
    for e in found:  # the rep's visits to the customer that day, in time order
        records[e.record_id] = e  # versions of one record are one visit
    live = [e for e in records.values() if not e.deleted]
    if len(live) < options.duplicate_visits:
        return
    await _episode(
        session,
        tenant_id=tenant.id,
        type="duplicate_visit",
        key=f"duplicate_visit:{rep}:{customer}:{day}",
        scope=f"rep:{rep}",
        title=msg(
            "alerts.quality.duplicate_visit",
            rep=await lifecycle.rep_name(session, tenant_id=tenant.id, rep_id=rep),
            customer=customer,
            count=len(live),
            day=date.fromisoformat(day),
        ),
        detail={"rep_id": rep, "customer_id": customer, "day": day, "count": len(live)},
        ids=[e.event_id for e in live],
        now=now,
    )


def _event_noun(type_: str) -> Msg | str:
    """What a burst is made of (拜访记录 / visits); another event type by its name."""
    nouns = {
        "visit": msg("alerts.event.visits"),
        "lead": msg("alerts.event.leads"),
        "quote": msg("alerts.event.quotes"),
    }
    return nouns.get(type_, type_)


def working_hours_between(
    start: datetime,
    end: datetime,
    *,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    first_hour: int,
    last_hour: int,
) -> float:
    """Hours of [start, end) that fall in working hours of working days (tenant-local)."""
    if end <= start or last_hour <= first_hour:
        return 0.0
    total = 0.0
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if calendar.is_working_day(day):
            lo = datetime.combine(day, time(first_hour), tzinfo=tz)
            hi = datetime.combine(day, time(last_hour), tzinfo=tz)
            a, b = max(lo, start), min(hi, end)
            if b > a:
                total += (b - a).total_seconds() / 3600
        day += timedelta(days=1)
    return total


async def check_stale_sources(
    session: AsyncSession,
    *,
    tenant: Tenant,
    calendar: WorkCalendar,
    options: AlertOptions,
    now: datetime,
) -> None:
    """Flag sources silent for ``stale_source_hours`` working hours; resolve when back.

    History imports (``import:<name>``) are one-off loads, not feeds: never stale.
    """
    tz = ZoneInfo(tenant.timezone)
    last = await repo.last_received_by_source(
        session, tenant_id=tenant.id, since=now - timedelta(days=7)
    )
    open_keys = {
        a.dedup_key
        for a in await repo.open_alerts(session, tenant_id=tenant.id, types=["stale_source"])
    }
    back = []
    for source, at in sorted(last.items()):
        key = f"stale_source:{source}"
        if source.startswith(IMPORT_SOURCE_PREFIX):
            if key in open_keys:  # raised before imports were exempt
                back.append(key)
            continue
        hours = working_hours_between(
            at,
            now,
            tz=tz,
            calendar=calendar,
            first_hour=options.work_start_hour,
            last_hour=options.work_end_hour,
        )
        if hours >= options.stale_source_hours:
            await lifecycle.raise_alert(
                session,
                tenant_id=tenant.id,
                kind="data_quality",
                type="stale_source",
                dedup_key=key,
                scope="company",
                severity="warning",
                title=msg(
                    "alerts.quality.stale_source",
                    source=source,
                    hours=number(hours),
                    since=at.astimezone(tz).replace(second=0, microsecond=0),
                ),
                detail={
                    "source": source,
                    "last_received_at": at.isoformat(),
                    "working_hours": round(hours, 1),
                },
                now=now,
                count=False,
            )
        elif key in open_keys:
            back.append(key)
    await lifecycle.resolve_alerts(
        session,
        tenant_id=tenant.id,
        dedup_keys=back,
        now=now,
        note=msg("alerts.note.events_arrive_again"),
    )


async def check_pipeline_lag(
    session: AsyncSession,
    *,
    tenant: Tenant,
    lag_records: int,
    stuck: bool,
    options: AlertOptions,
    now: datetime,
) -> None:
    """Flag scoring behind the event log (many records, or no progress); resolve when caught up."""
    key = "pipeline_lag"
    if lag_records >= options.pipeline_lag_records or stuck:
        await lifecycle.raise_alert(
            session,
            tenant_id=tenant.id,
            kind="data_quality",
            type="pipeline_lag",
            dedup_key=key,
            scope="company",
            severity="critical" if stuck else "warning",
            title=(
                msg("alerts.quality.pipeline_stuck", count=lag_records)
                if stuck
                else msg("alerts.quality.pipeline_lag", count=lag_records)
            ),
            detail={"lag_records": lag_records, "stuck": stuck},
            now=now,
            count=False,
        )
    elif lag_records < options.pipeline_lag_records // 2:
        await lifecycle.resolve_alerts(
            session,
            tenant_id=tenant.id,
            dedup_keys=[key],
            now=now,
            note=msg("alerts.note.caught_up"),
        )
