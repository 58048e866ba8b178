"""The set-based leaderboard (issue 19, item 6): the same answers as every member's own
scorecard, and a number of statements that does not grow with the number of reps.

The oracle is the leaderboard as it was before: every member's scorecard from
``rep_scorecards`` (the models a rep's card shows), ranked by score or by one KPI's
actual from its own ``values_by_rep`` read. The seeded company has account managers,
presales, a role without a template and a rep without a role, a rep who moves team
mid-month, a rep made inactive mid-month, USD deals converted at the tenant's rate, a
revised target, events known only after a mid-month ``as_of``, ties, a lower-is-better
KPI, ratios below their minimum sample and distinct counts. Both run modes (SQLite and
PostgreSQL) on a pinned clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.scorecards import service
from paceline.api.scorecards.schemas import LeaderboardOut, LeaderRow, ScorecardOut
from paceline.shared.db.context import find_kpi, tenant_calendar
from paceline.shared.db.models import Tenant
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.readmodel import org, rollups
from paceline.shared.readmodel.evaluation import counted_days_end, q4
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.progress import values_by_rep
from paceline.shared.readmodel.scopes import Scope
from tests.api.scorecards.test_scorecards_api import Clocked, complaint, deal, target, visits
from tests.support import Stack

pytestmark = pytest.mark.dates

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")
PLANNED = datetime.fromisoformat("2026-10-28T10:00:00+08:00")
MID = datetime.fromisoformat("2026-11-12T00:00:00+08:00")
AFTER_NOVEMBER = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
TEAMS = [
    {"id": "sales", "name": "销售部"},
    {"id": "north", "name": "华北", "parent_id": "sales"},
    {"id": "south", "name": "华南", "parent_id": "sales"},
]
REPS: list[dict[str, Any]] = [
    {"id": "r1", "name": "王芳", "team_id": "north", "role": "account_manager"},
    {"id": "r2", "name": "李娜", "team_id": "north", "role": "account_manager"},
    {"id": "r3", "name": "张伟", "team_id": "north", "role": "account_manager"},
    {"id": "r4", "name": "刘洋", "team_id": "north", "role": "account_manager"},
    {"id": "r5", "name": "陈静", "team_id": "north", "role": "hunter"},  # no such template
    {"id": "r6", "name": "杨磊", "team_id": "north"},  # no role
    {"id": "p1", "name": "赵敏", "team_id": "south", "role": "presales"},
    {"id": "p2", "name": "孙强", "team_id": "south", "role": "presales"},
    {"id": "p3", "name": "周杰", "team_id": "south", "role": "presales"},
]
ORG: dict[str, Any] = {"teams": TEAMS, "reps": REPS}


def survey(event_id: str, rep: str, day: str, score: int) -> dict[str, Any]:
    """A customer survey."""
    return {
        "event_id": event_id,
        "type": "survey",
        "occurred_at": f"{day}T11:00:00+08:00",
        "rep_id": rep,
        "score": score,
    }


def won(
    deal_id: str, rep: str, day: str, amount: str, *, customer: str, currency: str = "CNY"
) -> dict[str, Any]:
    """A won deal with a new customer (new_customers counts them distinct)."""
    return {
        **deal(deal_id, rep, day, amount),
        "customer_id": customer,
        "is_new_customer": True,
        "currency": currency,
    }


async def post(s: Stack, events: list[dict[str, Any]]) -> None:
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(events), resp.text
    await s.wait_scored()


async def seed(s: Stack, clock: Any) -> None:
    """Targets before November, the month's events, a move, a deactivation, a revision,
    and events known only after MID."""
    clock.set(PLANNED)
    resp = await s.client.put(
        "/v1/fx-rates",
        json={"rates": [{"currency": "USD", "day": "2026-11-01", "rate": "7.1"}]},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    for rep in ("r1", "r2", "r3", "r4", "r5", "r6"):
        await target(s, "revenue", f"rep:{rep}", "10000", baseline="8000", stretch="12000")
        await target(s, "visits", f"rep:{rep}", "6")
    await target(s, "win_rate", "rep:r1", "0.5")
    await target(s, "new_customers", "rep:r1", "2", stretch="3")
    await target(s, "crm_active_days", "rep:r1", "0.2")
    for rep in ("p1", "p2", "p3"):
        await target(s, "response_hours", f"rep:{rep}", "4", baseline="6", stretch="3")
        await target(s, "deals_won", f"rep:{rep}", "2")
    await target(s, "csat", "rep:p1", "4")
    clock.set(datetime.fromisoformat("2026-11-02T09:00:00+08:00"))
    await post(
        s,
        [
            won("a1", "r1", "2026-11-03", "6000", customer="c1"),
            won("a2", "r1", "2026-11-05", "1000", customer="c2", currency="USD"),  # ¥7,100
            *[deal(f"a-l{n}", "r1", "2026-11-06", "10", stage="lost") for n in range(3)],
            won("b1", "r2", "2026-11-04", "9000", customer="c3"),  # r2 and r3 tie
            won("c1", "r3", "2026-11-04", "9000", customer="c4"),
            won("d1", "r4", "2026-11-03", "5000", customer="c5"),  # north until the 15th
            won("d2", "r4", "2026-11-18", "4000", customer="c6"),  # then south
            won("e1", "r5", "2026-11-06", "15000", customer="c7"),
            won("f1", "r6", "2026-11-04", "500", customer="c8", currency="USD"),
            *visits("r1", 7, day="2026-11-03"),
            *visits("r2", 3, day="2026-11-04"),
            *visits("r2", 2, day="2026-11-05"),
            *visits("r3", 5, day="2026-11-04"),
            *visits("r6", 9, day="2026-11-09"),
            complaint("k1", "p1", "2026-11-03", 3),
            complaint("k2", "p1", "2026-11-04", 5),
            complaint("k3", "p1", "2026-11-05", 7),
            complaint("k4", "p2", "2026-11-03", 1),
            complaint("k5", "p2", "2026-11-04", 2),
            complaint("k6", "p2", "2026-11-05", 3),
            complaint("k7", "p3", "2026-11-05", 2),  # below response_hours' sample of 3
            survey("s1", "p1", "2026-11-06", 5),
            survey("s2", "p1", "2026-11-07", 4),
            won("g1", "p2", "2026-11-06", "3000", customer="c9"),
            won("g2", "p3", "2026-11-06", "3000", customer="c10"),
        ],
    )
    # r4 moves to the south on the 15th; r6 leaves the org chart on the 20th.
    moved = [{**r, "team_id": "south"} if r["id"] == "r4" else r for r in REPS]
    clock.set(datetime.fromisoformat("2026-11-14T09:00:00+08:00"))
    resp = await s.client.put(
        "/v1/org",
        json={"teams": TEAMS, "reps": moved, "effective_from": "2026-11-15"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    clock.set(datetime.fromisoformat("2026-11-19T09:00:00+08:00"))
    resp = await s.client.put(
        "/v1/org",
        json={
            "teams": TEAMS,
            "reps": [r for r in moved if r["id"] != "r6"],
            "effective_from": "2026-11-20",
        },
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    # Known after MID: a late deal dated before it, more deals and complaints, and a
    # revised target for r2 (a new version recorded after MID).
    clock.set(datetime.fromisoformat("2026-11-20T09:00:00+08:00"))
    await post(
        s,
        [
            won("b2", "r2", "2026-11-09", "2500", customer="c3"),  # same customer again
            won("h1", "r3", "2026-11-19", "3500", customer="c11"),
            complaint("k8", "p3", "2026-11-17", 1),
            complaint("k9", "p3", "2026-11-18", 2),
            *visits("r4", 4, day="2026-11-17"),
        ],
    )
    found = await s.client.get(
        "/v1/targets",
        params={"kpi": "revenue", "scope": "rep:r2", "period": "2026-11"},
        headers=s.auth(),
    )
    assert found.status_code == 200, found.text
    target_id = found.json()[0]["id"]
    resp = await s.client.put(
        f"/v1/targets/{target_id}",
        json={"target": "11000", "reason": "大客户转入"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    clock.set(TODAY)


async def oracle(
    session: AsyncSession,
    *,
    tenant: Tenant,
    team: str,
    period: Period,
    as_of: datetime,
    known: datetime | None,
    template_key: str | None,
    kpi_key: str | None,
) -> LeaderboardOut:
    """The leaderboard as computed before: every member's scorecard, then the ranking."""
    calendar = await tenant_calendar(session, tenant=tenant)
    teams = await team_ids(session, tenant_id=tenant.id, scope=Scope("team", team))
    spans = await rollups.reps_in_scope(
        session, tenant_id=tenant.id, start=period.start, end=period.end, team_ids=teams
    )
    reps = sorted({r for r, _lo, _hi in spans})
    cards = await service.rep_scorecards(
        session,
        tenant=tenant,
        rep_ids=reps,
        period=period,
        as_of=as_of,
        calendar=calendar,
        template_key=template_key,
        known=known,
    )
    ranking = None
    actuals: dict[str, Decimal | None] = {}
    if kpi_key is not None:
        ranking = await find_kpi(session, tenant_id=tenant.id, key=kpi_key)
        assert ranking is not None
        found = await values_by_rep(
            session,
            tenant=tenant,
            kpi=ranking,
            rep_ids=reps,
            start=period.start,
            end=counted_days_end(period, as_of, ZoneInfo(tenant.timezone)),
            calendar=calendar,
            known=known,
        )
        actuals = {rep: q4(found[rep].value) for rep in reps}
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)

    def sort_key(card: ScorecardOut) -> tuple[int, Decimal, str]:
        if ranking is None:
            value = card.score
        else:
            value = actuals.get(card.scope.removeprefix("rep:"))
            if value is not None and ranking.direction == "lower":
                value = -value
        return (0 if value is not None else 1, -(value or Decimal(0)), card.scope)

    rows = []
    for rank, card in enumerate(sorted(cards, key=sort_key), start=1):
        rep = card.scope.removeprefix("rep:")
        item = next((i for i in card.items if i.kpi == kpi_key), None) if kpi_key else None
        rows.append(
            LeaderRow(
                rank=rank,
                rep_id=rep,
                name=names.get(rep),
                score=card.score,
                tier=card.tier,
                coverage=card.coverage,
                kpi_actual=actuals.get(rep) if kpi_key else None,
                kpi_attainment=item.attainment if item else None,
            )
        )
    return LeaderboardOut(team=team, period=period.key, as_of=as_of, kpi=kpi_key, rows=rows)


MOMENTS = [(AFTER_NOVEMBER, None), (AFTER_NOVEMBER, AFTER_NOVEMBER), (MID, MID), (MID, None)]
RANKINGS = [
    None,
    "revenue",
    "visits",
    "win_rate",
    "new_customers",
    "crm_active_days",
    "response_hours",
    "csat",
    "deals_won",  # in the presales template, outside the account managers'
    "new_opportunities",  # outside every template
]


async def test_leaderboard_equals_every_members_scorecard(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    await seed(s, clock)
    compared = 0
    seen_ties = seen_moved = seen_inactive = False
    async with s.db.transaction(write=False) as session:
        tenant = await session.get(Tenant, s.settings.default_tenant)
        assert tenant is not None
        calendar = await tenant_calendar(session, tenant=tenant)
        for team in ("north", "south", "sales"):
            for period in (parse_period("2026-11"), parse_period("2026-Q4")):
                for as_of, known in MOMENTS:
                    for template_key in (None, "presales"):
                        for kpi_key in RANKINGS:
                            args: dict[str, Any] = {
                                "tenant": tenant,
                                "team": team,
                                "period": period,
                                "as_of": as_of,
                                "known": known,
                                "template_key": template_key,
                                "kpi_key": kpi_key,
                            }
                            got = await service.leaderboard(session, calendar=calendar, **args)
                            want = await oracle(session, **args)
                            assert got == want, (team, period.key, as_of, known, kpi_key)
                            compared += 1
                            ids = [r.rep_id for r in got.rows]
                            seen_moved |= team == "south" and "r4" in ids
                            seen_inactive |= team == "north" and "r6" in ids
                            scores = [r.score for r in got.rows if r.score is not None]
                            seen_ties |= len(scores) != len(set(scores))
    assert compared == 3 * 2 * len(MOMENTS) * 2 * len(RANKINGS)
    # The seeded cases the comparison is meant to cover did occur.
    assert seen_moved
    assert seen_inactive
    assert seen_ties

    # Spot checks of the figures themselves (so that both paths being wrong fails too).
    resp = await s.client.get(
        "/v1/leaderboard",
        params={"team": "north", "period": "2026-11", "kpi": "revenue"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    rows = {r["rep_id"]: r for r in resp.json()["rows"]}
    # r1: 6000 + 1000 USD x 7.1 = 13100; r6 (inactive since the 20th): 500 x 7.1 = 3550
    assert Decimal(rows["r1"]["kpi_actual"]) == Decimal(13100)
    assert Decimal(rows["r6"]["kpi_actual"]) == Decimal(3550)
    # r4 was in the north until the 15th: both deals count (the whole month's card).
    assert Decimal(rows["r4"]["kpi_actual"]) == Decimal(9000)
    # r2 (revised to 11000: 11500 / 11000) and r3 (12500 / 10000 -> 1.25)
    assert Decimal(rows["r2"]["kpi_attainment"]) == q4(Decimal(11500) / Decimal(11000))
    assert Decimal(rows["r3"]["kpi_attainment"]) == Decimal("1.25")
    assert [r["rep_id"] for r in resp.json()["rows"]][:3] == ["r5", "r1", "r3"]
    # At MID, as known then: r2 and r3 tie on 9000 (the tie goes by rep id).
    resp = await s.client.get(
        "/v1/leaderboard",
        params={"team": "north", "period": "2026-11", "as_of": MID.isoformat()},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    by_rank = resp.json()["rows"]
    tied = [r for r in by_rank if r["rep_id"] in ("r2", "r3")]
    assert [r["rep_id"] for r in tied] == ["r2", "r3"]
    assert tied[0]["score"] == tied[1]["score"]
    assert tied[1]["rank"] == tied[0]["rank"] + 1


# -- flatness -----------------------------------------------------------------------------


@asynccontextmanager
async def statements(session: AsyncSession) -> AsyncIterator[list[str]]:
    """The SQL statements the session's connection executes meanwhile (only its own: the
    stack's background work runs on other connections of the same engine)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    conn = (await session.connection()).sync_connection
    assert conn is not None
    event.listen(conn, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", record)


async def test_statements_do_not_grow_with_reps(clocked_both: Clocked) -> None:
    s, clock = clocked_both
    clock.set(PLANNED)
    teams = [{"id": "small", "name": "小组"}, {"id": "big", "name": "大组"}]
    reps = [
        {"id": f"{team}-{n:02d}", "name": f"{team} {n}", "team_id": team, "role": role}
        for team, size in (("small", 5), ("big", 50))
        for n in range(size)
        for role in (("presales" if n % 5 == 4 else "account_manager"),)
    ]
    resp = await s.client.put("/v1/org", json={"teams": teams, "reps": reps}, headers=s.auth())
    assert resp.status_code == 200, resp.text
    for r in reps:
        await target(s, "revenue", f"rep:{r['id']}", "1000", stretch="2000")
    clock.set(datetime.fromisoformat("2026-11-02T09:00:00+08:00"))
    events = []
    for n, r in enumerate(reps):
        events.append(won(f"w-{r['id']}", r["id"], "2026-11-03", str(100 * n), customer=r["id"]))
        events += visits(r["id"], n % 4, day="2026-11-04")
    await post(s, events)
    clock.set(TODAY)
    counts: dict[tuple[str, str | None, bool], int] = {}
    async with s.db.transaction(write=False) as session:
        tenant = await session.get(Tenant, s.settings.default_tenant)
        assert tenant is not None
        calendar = await tenant_calendar(session, tenant=tenant)
        for team in ("small", "big"):
            for kpi_key in (None, "revenue", "new_opportunities"):
                for as_known in (False, True):
                    args: dict[str, Any] = {
                        "tenant": tenant,
                        "team": team,
                        "period": parse_period("2026-11"),
                        "as_of": AFTER_NOVEMBER,
                        "calendar": calendar,
                        "known": AFTER_NOVEMBER if as_known else None,
                        "template_key": None,
                        "kpi_key": kpi_key,
                    }
                    # Once before counting: a first read may fill a process-wide cache.
                    await service.leaderboard(session, **args)
                    async with statements(session) as seen:
                        board = await service.leaderboard(session, **args)
                    assert len(board.rows) == (5 if team == "small" else 50)
                    counts[(team, kpi_key, as_known)] = len(seen)
    for kpi_key in (None, "revenue", "new_opportunities"):
        for as_known in (False, True):
            small, big = counts[("small", kpi_key, as_known)], counts[("big", kpi_key, as_known)]
            assert small == big, (kpi_key, as_known, counts)
    # A constant (19 today): the team tree, members, roles, two templates, the two
    # templates' 10 KPIs' values (one statement per KPI and table, distinct counts their
    # own), targets, names; a ranking KPI outside the templates adds its own; "as known"
    # adds the change-log table's statement per KPI and table.
    assert counts[("big", None, False)] <= 20, counts
    assert counts[("big", None, True)] <= 30, counts
    assert counts[("big", "revenue", False)] == counts[("big", None, False)]
    assert counts[("big", "new_opportunities", False)] == counts[("big", None, False)] + 1
