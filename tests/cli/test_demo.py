"""The demo company's data: its org chart, a deterministic history with seasonality, the
laggard and the new hire, and the live trickle through the real pipeline.

The whole seeding (history scored, plan decomposed) runs in tests/browser, where
``paceline serve --demo`` is started as a subprocess.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from paceline.cli.demo import (
    LAGGARD,
    LIVE_SOURCE,
    NEW_HIRE,
    STAR,
    LiveFeed,
    demo_events,
    demo_org,
    demo_reps,
    history_start,
    trickle,
)
from paceline.shared.clock import FixedClock
from paceline.shared.db.models import Event
from paceline.shared.events import CanonicalEvent
from paceline.shared.kpi.calendar import builtin_calendar
from tests.support import embedded_settings, running_stack

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
    resumed = demo_events(now=later, tz=TZ, calendar=CAL, after=NOW)
    assert resumed, "three days bring new events"
    assert all(NOW < e["occurred_at"] <= later for e in resumed)
    assert not {e["event_id"] for e in resumed} & set(full)
    # Sent in time order, so the newest stored event is a watermark.
    times = [e["occurred_at"] for e in resumed]
    assert times == sorted(times)
    # The full history at the later time is exactly the first part plus the resumed part,
    # less the versions that the later time superseded (a deal sent open, now closed).
    at_later = {e["event_id"] for e in demo_events(now=later, tz=TZ, calendar=CAL)}
    # (The laggard's and the star's six weeks and the new hire's ten days move with
    # "today": at a window's edge their days are drawn again, so only theirs may differ.)
    moved = {
        eid for eid in set(full) ^ at_later if any(r in eid for r in (LAGGARD, STAR, NEW_HIRE))
    }
    superseded = set(full) - at_later - moved
    assert superseded
    assert all(eid.endswith("-v1") for eid in superseded)
    assert at_later - moved == (set(full) - superseded - moved) | {
        e["event_id"] for e in resumed if e["event_id"] not in moved
    }


def test_the_live_feed_is_the_history_as_time_passes() -> None:
    """Live events are the model's own: what the feed hands out over a day, tick by tick,
    is what the history of that day holds when the day is over; nothing on a quiet night."""
    feed = LiveFeed(tz=TZ, calendar=CAL)
    start = datetime(2026, 12, 1, 0, 0, tzinfo=TZ)
    ticks = [start + timedelta(minutes=7 * n) for n in range(0, 24 * 60 // 7 + 1)]
    live = [e for a, b in itertools.pairwise(ticks) for e in feed.between(a, b)]
    end = ticks[-1]
    history = demo_events(now=end, tz=TZ, calendar=CAL, after=start)
    # Intermediate versions (open deal, unpaid invoice) are sent live and superseded later.
    history_ids = {e["event_id"] for e in history}
    assert history_ids <= {e["event_id"] for e in live}
    assert all(e["event_id"].endswith("-v1") for e in live if e["event_id"] not in history_ids)
    assert 40 < len(live) < 160  # a working day of 21 reps
    assert all(9 <= e["occurred_at"].astimezone(TZ).hour < 19 for e in live)
    assert not feed.between(
        datetime(2026, 12, 1, 20, tzinfo=TZ), datetime(2026, 12, 2, 8, tzinfo=TZ)
    )


async def test_the_trickle_goes_through_the_pipeline(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=TZ))
    async with running_stack("embedded", embedded_settings(tmp_path), clock=clock) as stack:
        runtime = stack.runtime()
        since = clock.now()
        sent = 0
        for _ in range(8):  # a working day in hourly ticks
            clock.advance(timedelta(hours=1))
            sent += await trickle(runtime, tenant_id="default", since=since, every_s=0, ticks=1)
            since = clock.now()
        await stack.wait_scored()
        async with stack.db.transaction(write=False) as session:
            rows = (
                await session.execute(
                    select(Event.event_id, Event.occurred_at, Event.received_at).where(
                        Event.tenant_id == "default", Event.source == LIVE_SOURCE
                    )
                )
            ).all()
    expected = LiveFeed(tz=TZ, calendar=CAL).between(
        datetime(2026, 12, 1, 9, 0, tzinfo=TZ), clock.now()
    )
    assert sent == len(rows) == len(expected) > 10
    assert {r.event_id for r in rows} == {e["event_id"] for e in expected}
    # Each event arrived within the hour it happened: live, never back-dated.
    assert all(timedelta(0) <= r.received_at - r.occurred_at <= timedelta(hours=1) for r in rows)
