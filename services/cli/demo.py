"""A small demo company: three teams, eighteen reps, three months of CRM activity.

The events go through the event log like any CRM's (source ``demo``), so the demo shows
the real pipeline. Event ids are deterministic: seeding twice counts nothing twice.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from paceline.api.org.schemas import OrgIn, RepIn, TeamIn
from paceline.api.org.service import get_org, replace_org
from paceline.shared.eventlog import EventLog, LogRecord
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.runtime import Runtime

TEAMS = [
    ("north", "华北大区 North"),
    ("east", "华东大区 East"),
    ("south", "华南大区 South"),
]
ROLES = ["account_manager", "channel_manager", "presales"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰", "勇", "军"]


def demo_org() -> OrgIn:
    """The demo org chart."""
    reps = []
    for i in range(18):
        team = TEAMS[i % 3][0]
        name = SURNAMES[i] + GIVEN[i % len(GIVEN)]
        reps.append(RepIn(id=f"rep-{i + 1:02d}", name=name, team_id=team, role=ROLES[i % 3]))
    teams = [TeamIn(id="hq", name="总部 Headquarters")] + [
        TeamIn(id=tid, name=name, parent_id="hq") for tid, name in TEAMS
    ]
    return OrgIn(teams=teams, reps=reps)


def demo_events(
    *, now: datetime, tz: ZoneInfo, days: int = 90, seed: int = 7
) -> Iterator[dict[str, Any]]:
    """Canonical events for the last ``days`` days, deterministic for a seed and day."""
    rng = random.Random(seed)  # noqa: S311  # demo data, not secrets
    today = now.astimezone(tz).date()
    for rep_no in range(1, 19):
        rep = f"rep-{rep_no:02d}"
        # rep-07 is the one who falls behind: a third of everyone else's activity.
        activity = 0.35 if rep_no == 7 else 0.7 + rng.random() * 0.6
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5 and rng.random() < 0.8:
                continue
            at = datetime.combine(day, time(9), tzinfo=tz)
            if day == today:
                limit = now.astimezone(tz)
            else:
                limit = datetime.combine(day, time(19), tzinfo=tz)
            for v in range(
                rng.choices([0, 1, 2, 3], [2, 4, 3, 1])[0] if rng.random() < activity else 0
            ):
                ts = at + timedelta(minutes=rng.randrange(0, 600))
                if ts > limit:
                    continue
                yield {
                    "event_id": f"demo-visit-{rep}-{day}-{v}",
                    "type": "visit",
                    "occurred_at": ts.isoformat(),
                    "rep_id": rep,
                    "customer_id": f"cust-{rng.randrange(1, 400)}",
                    "channel": rng.choice(["onsite", "onsite", "phone", "video"]),
                    "duration_min": rng.choice([20, 30, 45, 60, 90]),
                }
            if rng.random() < 0.3 * activity:
                ts = at + timedelta(minutes=rng.randrange(0, 480))
                if ts <= limit:
                    yield {
                        "event_id": f"demo-lead-{rep}-{day}",
                        "type": "lead",
                        "occurred_at": ts.isoformat(),
                        "rep_id": rep,
                        "customer_id": f"cust-{rng.randrange(1, 400)}",
                        "is_new_customer": rng.random() < 0.4,
                        "source": "website",
                    }
            if rng.random() < 0.25 * activity:
                deal = f"deal-{rep}-{day}"
                ts = at + timedelta(minutes=rng.randrange(0, 480))
                if ts > limit:
                    continue
                amount = Decimal(rng.randrange(20, 400) * 1000)
                customer = f"cust-{rng.randrange(1, 400)}"
                yield {
                    "event_id": f"demo-quote-{deal}",
                    "type": "quote",
                    "occurred_at": ts.isoformat(),
                    "rep_id": rep,
                    "customer_id": customer,
                    "amount": str(amount),
                    "status": "sent",
                }
                yield {
                    "event_id": f"{deal}-v1",
                    "type": "deal",
                    "entity_id": deal,
                    "version": 1,
                    "occurred_at": ts.isoformat(),
                    "rep_id": rep,
                    "customer_id": customer,
                    "stage": "open",
                    "amount": str(amount),
                    "product_line": "saas",
                }
                close = ts + timedelta(days=rng.randrange(3, 25), hours=rng.randrange(0, 6))
                if close <= now:
                    won = rng.random() < 0.45
                    yield {
                        "event_id": f"{deal}-v2",
                        "type": "deal",
                        "entity_id": deal,
                        "version": 2,
                        "occurred_at": close.isoformat(),
                        "rep_id": rep,
                        "customer_id": customer,
                        "stage": "won" if won else "lost",
                        "amount": str(amount),
                        "margin": str((amount * Decimal("0.3")).quantize(Decimal(1))),
                        "is_new_customer": rng.random() < 0.3,
                        "product_line": "saas",
                    }


async def seed_demo(runtime: Runtime, *, tenant_id: str) -> int:
    """Load the demo org and push the demo events through the event log; events sent."""
    eventlog: EventLog | None = runtime.eventlog
    assert eventlog is not None
    now = runtime.clock.now()
    async with runtime.db.transaction() as session:
        from paceline.shared.db import tenants as tenant_repo

        tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
        assert tenant is not None
        tz = ZoneInfo(tenant.timezone)
        if (await get_org(session, tenant_id=tenant_id)).reps:
            return 0  # already seeded
        await replace_org(
            session, tenant_id=tenant_id, org=demo_org(), today=now.astimezone(tz).date(), now=now
        )
    batch: list[LogRecord] = []
    sent = 0
    for raw in demo_events(now=now, tz=tz):
        env = Envelope(
            tenant_id=tenant_id,
            source="demo",
            received_at=now,
            event=CanonicalEvent.model_validate(raw),
        )
        batch.append(
            LogRecord(env.partition_key(), env.model_dump_json(exclude_none=True).encode())
        )
        if len(batch) >= 500:
            await eventlog.append(batch)
            sent += len(batch)
            batch = []
    if batch:
        await eventlog.append(batch)
        sent += len(batch)
    return sent
