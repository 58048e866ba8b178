"""Month close: a closed month holds still, and nothing is lost on the way.

Random histories (tests/strategies.py, around the November/December boundary) get
non-decreasing receipt times from 1 December on; November is closed at a random moment
among them (policy ``adjust``). Applied in random batches, some delivered twice, on SQLite
and PostgreSQL, the stored facts must satisfy, against from-scratch references:

* November's rows equal the reference over the events received by the close (frozen);
* every other day's rows equal the reference, plus the adjustments booked onto it;
* the adjustments of each (KPI, measure, rep) add up to what November's rows would have
  moved by: value totals over all days equal the reference (nothing lost or doubled);
* distinct members of November stay frozen, and are never moved to another month;
* a rebuild (refolding every record from its events) gives the same facts and adjustments.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from paceline.scoring.facts.service import apply_batch, rebuild_tenant
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models_history import FactAdjustment
from paceline.shared.db.session import Database
from paceline.shared.eventlog import ConsumedRecord
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.kpi.catalog import BUILTIN_KPIS
from paceline.shared.kpi.closes import Close
from paceline.shared.kpi.records import TenantContext
from tests.scoring.test_facts_property import ZONES, _new_tenant, database  # noqa: F401
from tests.strategies import batches, histories
from tests.support import diff_rows, reference_facts, stored_facts

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NOV = (date(2026, 11, 1), date(2026, 12, 1))
KPIS = list(BUILTIN_KPIS)


def _in_nov(day: date) -> bool:
    return NOV[0] <= day < NOV[1]


async def _adjustments(db: Database, tenant: str) -> list[tuple[Any, ...]]:
    async with db.transaction(write=False) as session:
        a = FactAdjustment
        rows = await session.execute(
            select(
                a.kind,
                a.kpi,
                a.measure,
                a.rep_id,
                a.source_day,
                a.booked_day,
                a.member,
                a.value,
                a.n,
                a.known_at,
                a.record_type,
                a.record_id,
            ).where(a.tenant_id == tenant)
        )
        return sorted(tuple(r) for r in rows.all())


@pytest.mark.timeout(900)
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
    max_examples=15,
)
@given(history=histories(), tz=st.sampled_from(ZONES), data=st.data())
def test_a_closed_month_holds_still_and_adjustments_lose_nothing(
    database: tuple[asyncio.Runner, Database],  # noqa: F811
    history: list[dict[str, Any]],
    tz: str,
    data: st.DataObject,
) -> None:
    runner, db = database
    gaps = data.draw(
        st.lists(
            st.sampled_from([0, 1, 60, 3600, 36000]), min_size=len(history), max_size=len(history)
        )
    )
    at = START
    receipts = []
    for gap in gaps:
        at += timedelta(seconds=gap)
        receipts.append(at)
    closed_at = data.draw(
        st.sampled_from(receipts).flatmap(lambda r: st.sampled_from([r, r - timedelta(seconds=1)]))
    )
    ctx = lambda t: {t: TenantContext(t, ZoneInfo(tz), "CNY")}  # noqa: E731

    async def load_tenant(session: Any, tenant: Any) -> Any:
        return TenantContext(tenant.id, ZoneInfo(tenant.timezone), tenant.currency), KPIS

    tenant = runner.run(_new_tenant(db, tz))
    envs = [
        Envelope(
            tenant_id=tenant, source="api", received_at=r, event=CanonicalEvent.model_validate(raw)
        )
        for raw, r in zip(history, receipts, strict=True)
    ]
    splits = batches(data.draw, len(envs))
    again = set(data.draw(st.lists(st.integers(0, len(splits) - 1), max_size=2)))
    records = [
        ConsumedRecord(0, i, e.partition_key(), e.model_dump_json(exclude_none=True).encode(), 0)
        for i, e in enumerate(envs)
    ]

    async def scenario() -> None:
        async with db.transaction() as session:
            row = await tenant_repo.get_tenant(session, tenant_id=tenant)
            assert row is not None
            row.closes = [Close("2026-11", NOV[0], NOV[1], closed_at).to_json()]
        for i, (lo, hi) in enumerate(splits):
            for _ in range(2 if i in again else 1):
                async with db.transaction() as session:
                    await apply_batch(
                        session,
                        records=records[lo:hi],
                        topic="t",
                        now=START,
                        load_tenant=load_tenant,
                    )

    runner.run(scenario())
    final_f, final_m = reference_facts(envs, ctx(tenant), KPIS)
    then_f, then_m = reference_facts(
        [e for e in envs if e.received_at <= closed_at], ctx(tenant), KPIS
    )

    def check(label: str) -> None:
        facts, members = runner.run(stored_facts(db, tenant_ids=[tenant]))
        adjustments = runner.run(_adjustments(db, tenant))
        # November holds still: as known at the close.
        nov = {k: v for k, v in facts.items() if _in_nov(k[4])}
        want = {k: v for k, v in then_f.items() if _in_nov(k[4])}
        assert nov == want, (label, diff_rows(want, nov))
        nov_m = {k: v for k, v in members.items() if _in_nov(k[4])}
        want_m = {k: v for k, v in then_m.items() if _in_nov(k[4])}
        assert nov_m == want_m, (label, diff_rows(want_m, nov_m))
        # Other days: the reference plus what was booked onto them.
        booked: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        for kind, kpi, m, rep, source, day, member, value, n, known, _t, _r in adjustments:
            assert _in_nov(source), (label, source)
            assert known > closed_at, (label, known)
            if kind == "adjust":
                assert member is None, label
                assert day is not None, label
                assert day >= NOV[1], (label, day)
                booked[(tenant, kpi, m, rep, day)][0] += value
                booked[(tenant, kpi, m, rep, day)][1] += n
            else:
                assert (kind, day, value) == ("frozen", None, 0), (label, kind)
        rest: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
        for k, (v, n) in final_f.items():
            if not _in_nov(k[4]):
                rest[k][0] += v
                rest[k][1] += n
        for k, (v, n) in booked.items():
            rest[k][0] += v
            rest[k][1] += n
        want_rest = {k: (v[0], v[1]) for k, v in rest.items() if v != [0, 0]}
        got_rest = {k: v for k, v in facts.items() if not _in_nov(k[4])}
        assert got_rest == want_rest, (label, diff_rows(want_rest, got_rest))
        # Distinct members are never moved out of November.
        got_rm = {k: v for k, v in members.items() if not _in_nov(k[4])}
        want_rm = {k: v for k, v in final_m.items() if not _in_nov(k[4])}
        assert got_rm == want_rm, (label, diff_rows(want_rm, got_rm))

        # Value totals over all days equal the reference: nothing lost or doubled.
        def totals(rows: dict[tuple[Any, ...], tuple[int, int]]) -> dict[Any, int]:
            out: dict[Any, int] = defaultdict(int)
            for (_t, kpi, m, rep, _d), (v, _n) in rows.items():
                out[(kpi, m, rep)] += v
            return {k: v for k, v in out.items() if v}

        assert totals(facts) == totals(final_f), label
        return None

    check("incremental")
    before = runner.run(_adjustments(db, tenant))

    async def rebuild() -> None:
        async with db.transaction() as session:
            row = await tenant_repo.get_tenant(session, tenant_id=tenant)
            assert row is not None
            await rebuild_tenant(session, tenant=row, now=START, load_tenant=load_tenant)

    runner.run(rebuild())
    check("rebuilt")
    after = runner.run(_adjustments(db, tenant))
    # The same adjustments (cause and amounts); batching may merge none of them.
    assert sorted(a[:10] for a in after) == sorted(a[:10] for a in before)


@pytest.mark.parametrize("cut", [None, 1])
def test_adjustments_do_not_depend_on_where_a_batch_cut_the_log(
    database: tuple[asyncio.Runner, Database],  # noqa: F811
    cut: int | None,
) -> None:
    """A deal added and deleted again one second after November's close (both events
    received at the same instant) lists the same two frozen active-day changes whether
    the two events come in one batch or two, and a rebuild lists them again (hypothesis
    found the per-knowledge-time steps listing them only when a batch cut between them)."""
    runner, db = database
    closed_at = START
    late = START + timedelta(seconds=1)
    day = "2026-11-29T12:00:00+00:00"
    raw = [
        {"event_id": "a", "type": "deal", "occurred_at": day, "rep_id": "r1",
         "entity_id": "deal-3", "version": 1, "stage": "open"},
        {"event_id": "b", "type": "deal", "occurred_at": day, "rep_id": "r1",
         "entity_id": "deal-3", "deleted": True, "stage": "open"},
    ]  # fmt: skip
    tenant = runner.run(_new_tenant(db, "Asia/Shanghai"))
    envs = [
        Envelope(
            tenant_id=tenant, source="api", received_at=late, event=CanonicalEvent.model_validate(r)
        )
        for r in raw
    ]
    records = [
        ConsumedRecord(0, i, e.partition_key(), e.model_dump_json(exclude_none=True).encode(), 0)
        for i, e in enumerate(envs)
    ]

    async def load_tenant(session: Any, t: Any) -> Any:
        return TenantContext(t.id, ZoneInfo(t.timezone), t.currency), KPIS

    async def scenario() -> None:
        async with db.transaction() as session:
            row = await tenant_repo.get_tenant(session, tenant_id=tenant)
            assert row is not None
            row.closes = [Close("2026-11", NOV[0], NOV[1], closed_at).to_json()]
        for part in [records] if cut is None else [records[:cut], records[cut:]]:
            async with db.transaction() as session:
                await apply_batch(
                    session, records=part, topic="t", now=START, load_tenant=load_tenant
                )

    async def rebuild() -> None:
        async with db.transaction() as session:
            row = await tenant_repo.get_tenant(session, tenant_id=tenant)
            assert row is not None
            await rebuild_tenant(session, tenant=row, now=START, load_tenant=load_tenant)

    async def listed() -> list[tuple[Any, ...]]:
        async with db.transaction(write=False) as session:
            a = FactAdjustment
            rows = await session.execute(
                select(a.kind, a.kpi, a.rep_id, a.source_day, a.member, a.n, a.event_id).where(
                    a.tenant_id == tenant
                )
            )
            return sorted(tuple(r) for r in rows.all())

    runner.run(scenario())
    live = runner.run(listed())
    member = date(2026, 11, 29).isoformat()
    want = [
        ("frozen", "crm_active_days", "r1", date(2026, 11, 29), member, -1, "b"),
        ("frozen", "crm_active_days", "r1", date(2026, 11, 29), member, 1, "a"),
    ]
    assert [r for r in live if r[1] == "crm_active_days"] == want
    runner.run(rebuild())
    assert runner.run(listed()) == live
