"""The heart of the product: incremental facts equal a from-scratch recomputation.

Random histories (tests/strategies.py) are applied in random batches, some batches
delivered twice, on SQLite and on real PostgreSQL; the stored facts must equal the
reference computed from the complete history at once (tests/support.py), row for row.
A rebuild from stored record states must give the same facts again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paceline.scoring.facts.service import apply_batch, rebuild_tenant
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.session import Database
from paceline.shared.eventlog import ConsumedRecord
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.kpi.catalog import BUILTIN_KPIS, KpiDefinition
from paceline.shared.kpi.formula import parse_formula
from paceline.shared.kpi.records import TenantContext
from tests.strategies import batches, formulas, histories
from tests.support import diff_rows, reference_facts, stored_facts

NOW = datetime(2026, 12, 3, tzinfo=UTC)
ZONES = ["Asia/Shanghai", "America/New_York", "UTC"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[asyncio.Runner, Database]]:
    """A migrated database shared by all examples (each example uses its own tenant)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('facts') / 'facts.db'}"
        drop = None
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database()
        drop = server
    upgrade(url)
    runner = asyncio.Runner()
    db = Database(url)
    try:
        yield runner, db
    finally:
        runner.run(db.dispose())
        runner.close()
        if drop is not None:
            drop.drop_database(url)


def _log(tenant: str, history: list[dict[str, Any]]) -> tuple[list[Envelope], list[ConsumedRecord]]:
    envs = [
        Envelope(
            tenant_id=tenant,
            source="api",
            received_at=NOW,
            event=CanonicalEvent.model_validate(raw),
        )
        for raw in history
    ]
    records = [
        ConsumedRecord(
            0, i, env.partition_key(), env.model_dump_json(exclude_none=True).encode(), 0
        )
        for i, env in enumerate(envs)
    ]
    return envs, records


async def _new_tenant(db: Database, tz: str) -> str:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    async with db.transaction() as session:
        row = await tenant_repo.ensure_tenant(session, tenant_id=tenant, name=tenant, now=NOW)
        row.timezone = tz
    return tenant


def _custom(index: int, text: str) -> KpiDefinition:
    return KpiDefinition(
        key=f"custom_{index}",
        name_zh="自定义",
        name_en="custom",
        unit="count",
        direction="higher",
        category="process",
        formula=parse_formula(text),
        builtin=False,
    )


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None
)
@given(
    history=histories(),
    tz=st.sampled_from(ZONES),
    custom=st.lists(formulas(), max_size=3),
    data=st.data(),
)
def test_incremental_facts_equal_recomputation(
    database: tuple[asyncio.Runner, Database],
    history: list[dict[str, Any]],
    tz: str,
    custom: list[str],
    data: st.DataObject,
) -> None:
    """Built-in KPIs and random custom formulas, on random histories and batchings."""
    runner, db = database
    kpis = [*BUILTIN_KPIS, *(_custom(i, text) for i, text in enumerate(custom))]

    async def load_tenant(session: Any, tenant: Any) -> Any:
        return TenantContext(tenant.id, ZoneInfo(tenant.timezone), tenant.currency), kpis

    async def scenario() -> tuple[Any, Any, Any, Any, list[Envelope], str]:
        tenant = await _new_tenant(db, tz)
        envs, records = _log(tenant, history)
        splits = batches(data.draw, len(records))
        redelivered = set(data.draw(st.lists(st.integers(0, len(splits) - 1), max_size=3)))
        for i, (lo, hi) in enumerate(splits):
            for _ in range(2 if i in redelivered else 1):
                async with db.transaction() as session:
                    await apply_batch(
                        session,
                        records=records[lo:hi],
                        topic="t",
                        now=NOW,
                        load_tenant=load_tenant,
                    )
        incremental = await stored_facts(db, tenant_ids=[tenant])
        async with db.transaction() as session:
            row = await tenant_repo.get_tenant(session, tenant_id=tenant)
            assert row is not None
            await rebuild_tenant(session, tenant=row, now=NOW, load_tenant=load_tenant)
        rebuilt = await stored_facts(db, tenant_ids=[tenant])
        return incremental[0], incremental[1], rebuilt[0], rebuilt[1], envs, tenant

    facts, members, rebuilt_facts, rebuilt_members, envs, tenant = runner.run(scenario())
    expected_facts, expected_members = reference_facts(
        envs, {tenant: TenantContext(tenant, ZoneInfo(tz), "CNY")}, kpis
    )
    assert facts == expected_facts, diff_rows(expected_facts, facts)
    assert members == expected_members, diff_rows(expected_members, members)
    assert rebuilt_facts == expected_facts, diff_rows(expected_facts, rebuilt_facts)
    assert rebuilt_members == expected_members, diff_rows(expected_members, rebuilt_members)
