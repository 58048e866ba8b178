"""Delivery noise study (issue 15, item 4): how many bot messages the demo's alerts make,
before (one message per alert change) and after (grouped, paced, held, inhibited).

The alerts are the product's own: the demo company (``paceline serve --demo``'s
generator) is seeded on a pinned clock at 08:30 on the 1st of a month, and the alert
engine runs its schedule while the live feed plays — the first hours (08:30 to 20:30 in
ten-minute steps), then the rest of the month (working hours in one-hour steps, a night
in one step). Every alert change the engine records (the outbox, ``alert_events``) is then
replayed, on the same instants, through each bot format's delivery: a subscription with
the defaults (every kind, severity from info, actions opened/reopened/escalated/resolved)
and the grouping step the dispatcher runs (:func:`paceline.scoring.delivery.grouping.plan`:
group_wait 30 s, group_interval 5 min, repeat 4 h, quiet hours on the tenant's calendar,
inhibition, the vendor's rate limit), each message rendered in the vendor's format.

* **before**: one message per matching alert change (the old behaviour);
* **after**: the messages the grouping step makes.

Figures per format: messages in total, the most in any 60 s (per bot), the most in any
1 s, alerts per message (mean, max), the largest request body. ``--quick``: a week.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import harness

TITLE = "Delivery noise: bot messages per minute, before and after grouping"

ABOUT = """\
**Data.** The demo company's own alerts: seeded on a pinned clock at 08:30 on
2026-12-01, then the live feed and the alert engine's schedule for the first hours
(08:30-20:30 in ten-minute steps) and the rest of the month (working hours in one-hour
steps, nights in one step; `--quick`: a week). Every alert change recorded is replayed on
its instant through each bot format's delivery with the default subscription.

**Before**: one message per alert change. **After**: the dispatcher's grouping step
(`grouping.plan`: group_wait 30 s, group_interval 5 min, repeat 4 h, quiet hours,
inhibition, the vendor's limit), each message rendered in the vendor's native format.
"""

TZ = ZoneInfo("Asia/Shanghai")
REFERENCE = datetime(2026, 12, 1, 8, 30, tzinfo=TZ)
FORMATS = ("wecom", "dingtalk", "feishu", "slack")
ACTIONS = ("opened", "reopened", "escalated", "resolved")


@dataclass(slots=True)
class Event:
    """One alert change as the outbox recorded it."""

    id: int
    at: datetime
    action: str
    team: str | None
    snapshot: dict[str, Any]


@dataclass(slots=True)
class Figures:
    """What a replay counted."""

    sends: list[datetime] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # alerts per message
    body_bytes: int = 0


async def _record(quick: bool, tmp: Path, log: Any) -> tuple[list[Event], dict[str, str | None]]:
    """Run the demo on a pinned clock; the alert changes and the org's team parents."""
    from sqlalchemy import select

    from paceline.cli.demo import seed_demo, trickle
    from paceline.shared.clock import FixedClock
    from paceline.shared.db.models_alerts import AlertEvent
    from paceline.shared.readmodel.org import team_parents
    from tests.support import embedded_settings, running_stack

    clock = FixedClock(REFERENCE)
    settings = embedded_settings(tmp / "data", alerts_tick_s=0.0, delivery_poll_s=0.0)
    async with running_stack("embedded", settings, clock=clock) as stack:
        state = stack.app.state.paceline
        runtime = stack.runtime()
        engine = state.extras["alerts"].engine
        _sent, since = await seed_demo(runtime, tenant_id="default")
        await stack.wait_scored(timeout_s=900)
        await engine.tick()
        log("delivery_noise: demo seeded; playing the first hours")

        async def step(delta: timedelta) -> None:
            nonlocal since
            clock.advance(delta)
            await trickle(runtime, tenant_id="default", since=since, every_s=0, ticks=1)
            since = clock.now()
            await stack.wait_scored(timeout_s=300)
            await engine.tick()

        for _ in range(12 * 6):  # 08:30 -> 20:30
            await step(timedelta(minutes=10))
        days = 7 if quick else 30
        end = REFERENCE + timedelta(days=days)
        while clock.now() < end:
            local = clock.now().astimezone(TZ)
            if 8 <= local.hour < 20:
                await step(timedelta(hours=1))
            else:  # the night in one step, to 08:00
                morning = datetime.combine(
                    local.date() + timedelta(days=1 if local.hour >= 20 else 0),
                    datetime.min.time().replace(hour=8),
                    tzinfo=TZ,
                )
                await step(morning - clock.now())
            if clock.now().astimezone(TZ).hour == 8:
                log(f"delivery_noise: {clock.now().astimezone(TZ).date()}")
        async with state.db.transaction(write=False) as session:
            rows = (await session.scalars(select(AlertEvent).order_by(AlertEvent.id))).all()
            events = [Event(e.id, e.at, e.action, e.team_id, dict(e.snapshot)) for e in rows]
            parents = await team_parents(session, tenant_id="default")
    return events, parents


def replay(
    fmt: str, events: Sequence[Event], parents: dict[str, str | None], *, until: datetime
) -> Figures:
    """The messages a default subscription in ``fmt`` gets for these alert changes."""
    from paceline.scoring.delivery.formats import render
    from paceline.scoring.delivery.grouping import (
        Change,
        WorkingHours,
        budget,
        group_key,
        group_payload,
        plan,
        source_of,
    )
    from paceline.shared.delivery_options import VENDOR_LIMITS, delivery_options
    from paceline.shared.kpi.calendar import builtin_calendar

    opts = delivery_options(fmt, None)
    limits = VENDOR_LIMITS[fmt].limits
    hours = WorkingHours(tz=TZ, calendar=builtin_calendar("cn"), start_hour=9, end_hour=18)
    roots = [t for t, p in parents.items() if p is None]
    sole_root = roots[0] if len(roots) == 1 else None
    pending = [e for e in events if e.action in ACTIONS and e.at <= until]
    out = Figures()
    held: list[Change] = []
    snapshots: dict[str, dict[str, Any]] = {}
    last_message_at: dict[str, datetime] = {}
    last_shown: dict[str, tuple[str, str, datetime]] = {}
    payloads: dict[int, dict[str, Any]] = {}
    i = 0
    next_due: datetime | None = None
    while i < len(pending) or held:
        upcoming = pending[i].at if i < len(pending) else None
        candidates = [t for t in (upcoming, next_due) if t is not None]
        if not candidates:
            break
        now = min(candidates)
        while i < len(pending) and pending[i].at <= now:
            e = pending[i]
            key = str(e.snapshot.get("dedup_key"))
            snapshots[key] = e.snapshot
            held.append(
                Change(
                    id=e.id,
                    alert_key=key,
                    group_key=group_key(e.snapshot, action=e.action, labels=opts.group_by),
                    action=e.action,
                    created_at=e.at,
                    alert=e.snapshot,
                )
            )
            payloads[e.id] = {"data": {"alert": e.snapshot, "event": {"action": e.action}}}
            i += 1
        sources = [s for a in snapshots.values() if (s := source_of(a)) is not None]
        p = plan(
            held,
            options=opts,
            now=now,
            last_message_at=last_message_at,
            last_shown=last_shown,
            sources=sources,
            sole_root=sole_root,
            hours=hours,
            room=budget(limits, out.sends, now),
        )
        by_id = {c.id: c for c in held}
        done: set[int] = set(p.suppressed)
        for index, members in enumerate(p.messages):
            covered: dict[str, list[Change]] = {}
            for cid, (m, key) in p.attached.items():
                if m == index:
                    covered.setdefault(key, []).append(by_id[cid])
                    done.add(cid)
            keys = {c.group_key for c in members}
            gkey = next(iter(keys)) if len(keys) == 1 else "*"
            body = group_payload(
                tenant_id="default",
                locale="zh-CN",
                key=gkey,
                members=members,
                covered=covered,
                payloads=payloads,
                now=now,
            )
            req = render(
                fmt=fmt, url="https://bot.example/hook", secret=None, message_id="m",
                payload=body, at=now, options=opts,
            )  # fmt: skip
            out.body_bytes = max(out.body_bytes, len(req.body))
            out.sends.append(now)
            out.sizes.append(int(body["data"]["group"]["count"]))
            for c in members:
                done.add(c.id)
                last_message_at[c.group_key] = now
                last_shown[c.alert_key] = (c.status, c.severity, now)
        held = [c for c in held if c.id not in done]
        next_due = p.next_due if held else None
        if next_due is not None and next_due <= now:
            next_due = now + timedelta(seconds=1)
    return out


def peak(times: Sequence[datetime], seconds: float) -> int:
    """The most instants in any window of ``seconds``."""
    ordered = sorted(times)
    best = lo = 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - timedelta(seconds=seconds):
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def run(ctx: harness.Context) -> dict[str, harness.Result]:
    """The study."""
    events, parents = ctx.run_async(_record(ctx.quick, ctx.tmp, ctx.log))
    first_hours_end = REFERENCE + timedelta(hours=12)
    end = max((e.at for e in events), default=REFERENCE)
    results: dict[str, harness.Result] = {}
    spans = {"first_hours": first_hours_end, "month": end + timedelta(days=1)}
    for span, until in spans.items():
        changes = [e.at for e in events if e.action in ACTIONS and e.at <= until]
        for fmt in FORMATS:
            from paceline.shared.delivery_options import VENDOR_LIMITS

            fig = replay(fmt, events, parents, until=until)
            minute_cap = min(
                (lim.count for lim in VENDOR_LIMITS[fmt].limits if lim.window_s == 60.0),
                default=60,
            )
            name = f"delivery_noise.{span}.{fmt}"
            results[name] = {
                "value": peak(fig.sends, 60),
                "baseline": peak(changes, 60),
                "unit": "messages/min (peak, per bot)",
                "better": "lower",
                "label": f"{span.replace('_', ' ')}, {fmt}: peak messages per minute "
                f"(grouped vs one per change; the vendor allows {minute_cap})",
                "table": "Bot messages per subscription: peak per minute, grouped vs one "
                "message per alert change",
                "total": len(fig.sends),
                "total_before": len(changes),
                "peak_per_second": peak(fig.sends, 1),
                "alerts_per_message_mean": round(sum(fig.sizes) / len(fig.sizes), 2)
                if fig.sizes
                else None,
                "alerts_per_message_max": max(fig.sizes, default=0),
                "max_body_bytes": fig.body_bytes,
                "vendor_per_minute": minute_cap,
            }
            ctx.note(
                f"{span} {fmt}: {len(changes)} alert changes -> {len(fig.sends)} messages; "
                f"peak {peak(fig.sends, 60)}/min (before {peak(changes, 60)}/min), "
                f"{peak(fig.sends, 1)}/s; alerts per message mean "
                f"{results[name]['alerts_per_message_mean']}, max "
                f"{results[name]['alerts_per_message_max']}; largest body {fig.body_bytes} B"
            )
    ctx.log("delivery_noise: done")
    return results
