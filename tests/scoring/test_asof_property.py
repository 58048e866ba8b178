"""As of a moment: every read "as of T" equals a recount over the events received by T.

Random histories (tests/strategies.py: versions, reverts, deletes, reassignment, late and
repeated events) get non-decreasing receipt times (the log's order) and are applied in
random batches, some delivered twice, on SQLite and on real PostgreSQL. Then for random
moments T — before everything, between receipts, at a receipt, after everything — the
fact rows as known at T (the read model's derived tables) and the roll-ups every API read
goes through must equal the from-scratch reference over the events received by T. A
rebuild (which refolds every record from its events) must give the same history again.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from paceline.api.facts.repository import fact_sources
from paceline.scoring.facts.service import apply_batch, rebuild_tenant
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.session import Database
from paceline.shared.eventlog import ConsumedRecord
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.kpi.catalog import BUILTIN_KPIS
from paceline.shared.kpi.records import TenantContext
from paceline.shared.readmodel import rollups
from tests.scoring.test_facts_property import ZONES, _new_tenant, database  # noqa: F401
from tests.strategies import batches, histories
from tests.support import FactRows, MemberRows, diff_rows, reference_facts

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WIDE = (date(2026, 1, 1), date(2027, 12, 31))
KPIS = list(BUILTIN_KPIS)


def _envelopes(tenant: str, history: list[dict[str, Any]], gaps: list[int]) -> list[Envelope]:
    at = START
    out = []
    for raw, gap in zip(history, gaps, strict=False):
        at += timedelta(seconds=gap)
        out.append(
            Envelope(
                tenant_id=tenant,
                source="api",
                received_at=at,
                event=CanonicalEvent.model_validate(raw),
            )
        )
    return out


async def _rows_known(db: Database, tenant: str, known: datetime) -> tuple[FactRows, MemberRows]:
    """Every fact and member row as known at ``known`` (the facts export's derived tables)."""
    out_f: FactRows = {}
    out_m: MemberRows = {}
    async with db.transaction(write=False) as session:
        for kpi in {k.key for k in KPIS}:
            fact, member = fact_sources(
                tenant_id=tenant, kpi=kpi, start=WIDE[0], end=WIDE[1], known=known
            )
            for m, r, d, v, n in (
                await session.execute(
                    select(fact.measure, fact.rep_id, fact.day, fact.value, fact.n)
                )
            ).all():
                if (int(v), int(n)) != (0, 0):
                    out_f[(tenant, kpi, int(m), r, d)] = (int(v), int(n))
            for m, r, d, mem, n in (
                await session.execute(
                    select(member.measure, member.rep_id, member.day, member.member, member.n)
                )
            ).all():
                out_m[(tenant, kpi, int(m), r, d, mem)] = int(n)
    return out_f, out_m


async def _rollups_known(
    db: Database, tenant: str, known: datetime | None
) -> dict[tuple[str, str | None, int], tuple[int, int, int]]:
    """Company and per-rep totals of every measure through the read model's roll-ups."""
    out: dict[tuple[str, str | None, int], tuple[int, int, int]] = {}
    async with db.transaction(write=False) as session:
        for kpi in KPIS:
            measures = list(range(len(kpi.formula.measures)))
            distinct = [i for i, m in enumerate(kpi.formula.measures) if m.kind == "distinct"]
            values = [i for i in measures if i not in distinct]
            for rep in (None, "r1", "r2", "r3"):
                totals = await rollups.measure_totals(
                    session,
                    tenant_id=tenant,
                    kpi=kpi.key,
                    start=WIDE[0],
                    end=WIDE[1],
                    rep_id=rep,
                    value_measures=values,
                    distinct_measures=distinct,
                    known=known,
                )
                for i, t in totals.items():
                    if (t.units, t.records, t.members) != (0, 0, 0):
                        out[(kpi.key, rep, i)] = (t.units, t.records, t.members)
    return out


def _reference_rollups(
    facts: FactRows, members: MemberRows
) -> dict[tuple[str, str | None, int], tuple[int, int, int]]:
    """The same totals, from reference rows."""
    distinct = {
        (k.key, i) for k in KPIS for i, m in enumerate(k.formula.measures) if m.kind == "distinct"
    }
    out: dict[tuple[str, str | None, int], list[Any]] = {}
    for (_t, kpi, m, rep, _d), (v, n) in facts.items():
        if (kpi, m) in distinct:
            continue
        for who in (None, rep):
            row = out.setdefault((kpi, who, m), [0, 0, set()])
            row[0] += v
            row[1] += n
    for (_t, kpi, m, rep, _d, mem), n in members.items():
        if (kpi, m) not in distinct or n <= 0:
            continue
        for who in (None, rep):
            out.setdefault((kpi, who, m), [0, 0, set()])[2].add(mem)
    result = {k: (v[0], v[1], len(v[2])) for k, v in out.items()}
    return {k: v for k, v in result.items() if v != (0, 0, 0)}


@pytest.mark.timeout(900)
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
    max_examples=20,
)
@given(history=histories(), tz=st.sampled_from(ZONES), data=st.data())
def test_as_of_reads_equal_recount_of_events_received_by_then(
    database: tuple[asyncio.Runner, Database],  # noqa: F811
    history: list[dict[str, Any]],
    tz: str,
    data: st.DataObject,
) -> None:
    runner, db = database
    gaps = data.draw(
        st.lists(st.sampled_from([0, 0, 1, 60, 3600]), min_size=len(history), max_size=len(history))
    )
    ctx_of = lambda tenant: TenantContext(tenant, ZoneInfo(tz), "CNY")  # noqa: E731

    async def load_tenant(session: Any, tenant: Any) -> Any:
        return TenantContext(tenant.id, ZoneInfo(tenant.timezone), tenant.currency), KPIS

    # Every draw before any I/O: a failure then replays the same example exactly.
    tenant = runner.run(_new_tenant(db, tz))
    envs = _envelopes(tenant, history, gaps)
    splits = batches(data.draw, len(envs))
    again = set(data.draw(st.lists(st.integers(0, len(splits) - 1), max_size=2)))
    receipts = sorted({e.received_at for e in envs})
    moments = [START - timedelta(seconds=1), receipts[-1] + timedelta(days=1)]
    moments += data.draw(
        st.lists(
            st.sampled_from(receipts).flatmap(
                lambda r: st.sampled_from([r, r - timedelta(microseconds=1)])
            ),
            min_size=1,
            max_size=4,
        )
    )
    records = [
        ConsumedRecord(0, i, e.partition_key(), e.model_dump_json(exclude_none=True).encode(), 0)
        for i, e in enumerate(envs)
    ]

    async def apply() -> None:
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

    runner.run(apply())

    def check(label: str) -> None:
        for known in moments:
            seen = [e for e in envs if e.received_at <= known]
            want_f, want_m = reference_facts(seen, {tenant: ctx_of(tenant)}, KPIS)
            got_f, got_m = runner.run(_rows_known(db, tenant, known))
            assert got_f == want_f, (label, known, diff_rows(want_f, got_f))
            assert got_m == want_m, (label, known, diff_rows(want_m, got_m))
            got_r = runner.run(_rollups_known(db, tenant, known))
            want_r = _reference_rollups(want_f, want_m)
            assert got_r == want_r, (label, known, diff_rows(want_r, got_r))
        # Without a moment: everything known now, the plain fact tables.
        want_f, want_m = reference_facts(envs, {tenant: ctx_of(tenant)}, KPIS)
        assert runner.run(_rollups_known(db, tenant, None)) == _reference_rollups(want_f, want_m)

    check("incremental")

    async def rebuild() -> None:
        async with db.transaction() as session:
            row = await tenant_repo.get_tenant(session, tenant_id=tenant)
            assert row is not None
            await rebuild_tenant(session, tenant=row, now=START, load_tenant=load_tenant)

    runner.run(rebuild())
    check("rebuilt")
