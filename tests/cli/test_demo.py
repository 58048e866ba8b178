"""The demo company's data: its org chart, a deterministic history with seasonality, the
laggard and the new hire, and the live trickle through the real pipeline.

The whole seeding (history scored, plan decomposed) runs in tests/browser, where
``paceline serve --demo`` is started as a subprocess.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from paceline.cli.demo import (
    LAGGARD,
    LIVE_SOURCE,
    NEW_HIRE,
    demo_events,
    demo_org,
    demo_reps,
    history_start,
    trickle,
)
from paceline.shared.db.models import Event
from paceline.shared.events import CanonicalEvent
from paceline.shared.kpi.calendar import builtin_calendar
from paceline.shared.runtime import Runtime
from tests.support import Stack

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 15, 30, tzinfo=TZ)
CAL = builtin_calendar("cn")


def test_org_has_three_teams_and_twenty_one_reps_in_three_roles() -> None:
    org = demo_org()
    assert [(t.id, t.parent_id) for t in org.teams] == [
        ("hq", None),
        ("north", "hq"),
        ("east", "hq"),
        ("south", "hq"),
    ]
    assert len(org.reps) == 21
    assert Counter(r.team_id for r in org.reps) == {"north": 7, "east": 7, "south": 7}
    assert Counter(r.role for r in org.reps) == {
        "account_manager": 9,
        "channel_manager": 6,
        "presales": 6,
    }
    assert len({r.name for r in org.reps}) == 21
    assert next(r for r in demo_reps() if r.id == LAGGARD).role == "account_manager"
    assert NEW_HIRE not in {r.id for r in org.reps}


def test_history_is_deterministic_valid_and_seasonal() -> None:
    events = list(demo_events(now=NOW, tz=TZ, calendar=CAL))
    again = list(demo_events(now=NOW, tz=TZ, calendar=CAL))
    assert events == again
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))
    assert 15_000 < len(events) < 30_000
    assert min(e["occurred_at"] for e in events).date() == history_start(NOW.date())
    assert max(e["occurred_at"] for e in events) <= NOW
    assert {e["type"] for e in events} == {
        "visit", "lead", "quote", "deal", "payment", "complaint", "survey", "training",
    }  # fmt: skip
    for e in events[:3000]:
        CanonicalEvent.model_validate(
            {k: str(v) if isinstance(v, date) else v for k, v in e.items()}
        )

    visits: dict[tuple[int, int], int] = Counter()
    won_days: list[date] = []
    for e in events:
        day = e["occurred_at"].astimezone(TZ).date()
        if e["type"] == "visit":
            visits[(day.year, day.month)] += 1
        if e["type"] == "deal" and e.get("stage") == "won":
            won_days.append(day)
    # Seasonality: the Spring Festival dip and the December push.
    assert visits[(2025, 2)] < 0.8 * visits[(2025, 3)]
    assert visits[(2025, 12)] > 1.15 * visits[(2025, 11)]
    # Growth: this year's months are busier than last year's.
    assert visits[(2026, 9)] > visits[(2025, 9)]

    def month_end(d: date) -> bool:
        nxt, left = d + timedelta(days=1), 0
        while nxt.month == d.month:
            left += CAL.is_working_day(nxt)
            nxt += timedelta(days=1)
        return left < 3

    rush = sum(month_end(d) for d in won_days) / len(won_days)
    assert rush > 0.2  # three working days of ~21 hold more than a fifth of the wins


def test_the_laggard_falls_behind_and_the_new_hire_appears() -> None:
    events = list(demo_events(now=NOW, tz=TZ, calendar=CAL))
    recent = NOW - timedelta(weeks=5)
    before = NOW - timedelta(weeks=30)
    per_rep: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        if e["type"] != "visit":
            continue
        if before <= e["occurred_at"] < recent - timedelta(weeks=5):
            per_rep[e["rep_id"]][0] += 1
        elif e["occurred_at"] >= recent:
            per_rep[e["rep_id"]][1] += 1
    old, new = per_rep[LAGGARD]
    # Per week: 20 weeks before vs the last 5.
    assert new / 5 < 0.5 * old / 20
    peers = [r.id for r in demo_reps() if r.role == "account_manager" and r.id != LAGGARD]
    assert all(per_rep[p][1] / 5 > 0.6 * per_rep[p][0] / 20 for p in peers)
    hire = [e for e in events if e["rep_id"] == NEW_HIRE]
    assert hire
    assert min(e["occurred_at"] for e in hire) > NOW - timedelta(days=11)


def test_resuming_sends_what_is_new_and_nothing_else() -> None:
    full = {e["event_id"]: e for e in demo_events(now=NOW, tz=TZ, calendar=CAL)}
    later = NOW + timedelta(days=3)
    since = NOW.date() - timedelta(days=1)
    resumed = list(demo_events(now=later, tz=TZ, calendar=CAL, since=since))
    start = datetime.combine(since, datetime.min.time(), tzinfo=TZ)
    assert all(e["occurred_at"] >= start for e in resumed)
    # Everything of the full history since then is there again (same ids, same content),
    # except versions that the later "now" superseded.
    ids = {e["event_id"] for e in resumed}
    for eid, e in full.items():
        if e["occurred_at"] >= start and not eid.endswith("-v1"):
            assert eid in ids, eid
    assert any(e["occurred_at"] > NOW for e in resumed)


async def test_the_trickle_goes_through_the_pipeline(embedded_stack: Stack) -> None:
    state = embedded_stack.app.state.paceline
    runtime = Runtime(
        settings=embedded_stack.settings,
        db=state.db,
        clock=state.clock,
        keys=state.keys,
        eventlog=state.eventlog,
        box=state.box,
    )
    sent = await trickle(runtime, tenant_id="default", every_s=0, ticks=4)
    assert sent >= 4
    await embedded_stack.wait_scored()
    async with embedded_stack.db.transaction(write=False) as session:
        stored = await session.scalar(
            select(func.count()).where(Event.tenant_id == "default", Event.source == LIVE_SOURCE)
        )
        laggard = await session.scalar(
            select(func.count()).where(Event.rep_id == LAGGARD, Event.source == LIVE_SOURCE)
        )
    assert stored == sent
    assert laggard is not None
    assert laggard <= stored
