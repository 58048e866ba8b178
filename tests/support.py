"""Test support: the from-scratch reference computation and in-process stacks.

The reference does not fold events one by one as the scoring service does: it takes the
complete set of accepted events, picks each record's latest version directly (highest
version; on equal versions the first in log order) and computes contributions once. The
tests then require the incrementally maintained facts to equal it exactly.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from paceline.cli.stack import build_app
from paceline.scoring.alerts.follower import checked_up_to, stored_up_to
from paceline.shared.auth import generate_key
from paceline.shared.clock import Clock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.models import ConsumerOffset, Fact, FactMember
from paceline.shared.db.session import Database
from paceline.shared.events import CanonicalEvent, Envelope
from paceline.shared.kpi.catalog import BUILTIN_KPIS, KpiDefinition
from paceline.shared.kpi.records import RecordState, TenantContext, VersionSeen, contributions
from paceline.shared.runtime import Runtime
from paceline.shared.settings import Settings
from tests.migrated import MIGRATED

FactRows = dict[tuple[str, str, int, str, date], tuple[int, int]]
MemberRows = dict[tuple[str, str, int, str, date, str], int]


def reference_state(events: Sequence[CanonicalEvent]) -> RecordState:
    """A record's state from all its events at once (events in log order)."""
    first_per_rank: dict[str, CanonicalEvent] = {}
    for ev in events:
        first_per_rank.setdefault(ev.version_rank, ev)
    ranks = sorted(first_per_rank)
    history = [VersionSeen.of(first_per_rank[r]) for r in ranks]
    return RecordState(current=first_per_rank[ranks[-1]], history=history)


def reference_facts(
    envelopes: Iterable[Envelope],
    contexts: dict[str, TenantContext],
    kpis: Sequence[KpiDefinition] = BUILTIN_KPIS,
) -> tuple[FactRows, MemberRows]:
    """Facts recomputed from scratch over the latest version of every record."""
    seen: set[tuple[str, str, str]] = set()
    by_record: dict[tuple[str, str, str], list[CanonicalEvent]] = defaultdict(list)
    for env in envelopes:
        ident = (env.tenant_id, env.source, env.event.event_id)
        if ident in seen:
            continue
        seen.add(ident)
        by_record[(env.tenant_id, env.event.type, env.event.record_id)].append(env.event)
    facts: dict[tuple[str, str, int, str, date], list[int]] = defaultdict(lambda: [0, 0])
    members: dict[tuple[str, str, int, str, date, str], int] = defaultdict(int)
    for (tenant_id, _type, _rid), events in by_record.items():
        state = reference_state(events)
        items, _issues = contributions(state, kpis, contexts[tenant_id])
        for c in items:
            if c.member is not None:
                members[(tenant_id, c.kpi, c.measure, c.rep_id, c.day, c.member)] += 1
            else:
                row = facts[(tenant_id, c.kpi, c.measure, c.rep_id, c.day)]
                row[0] += c.units
                row[1] += 1
    return (
        {k: (v[0], v[1]) for k, v in facts.items() if v != [0, 0]},
        {k: n for k, n in members.items() if n},
    )


async def stored_facts(
    db: Database, *, tenant_ids: Iterable[str] | None = None
) -> tuple[FactRows, MemberRows]:
    """Every fact and member row in the database."""
    async with db.transaction(write=False) as session:
        stmt = select(
            Fact.tenant_id, Fact.kpi, Fact.measure, Fact.rep_id, Fact.day, Fact.value, Fact.n
        )
        mstmt = select(
            FactMember.tenant_id,
            FactMember.kpi,
            FactMember.measure,
            FactMember.rep_id,
            FactMember.day,
            FactMember.member,
            FactMember.n,
        )
        if tenant_ids is not None:
            ids = list(tenant_ids)
            stmt = stmt.where(Fact.tenant_id.in_(ids))
            mstmt = mstmt.where(FactMember.tenant_id.in_(ids))
        facts = {
            (t, k, int(m), r, d): (int(v), int(n))
            for t, k, m, r, d, v, n in (await session.execute(stmt)).all()
            if (int(v), int(n)) != (0, 0)
        }
        members = {
            (t, k, int(m), r, d, mem): int(n)
            for t, k, m, r, d, mem, n in (await session.execute(mstmt)).all()
            if int(n) != 0
        }
    return facts, members


def diff_rows(expected: dict[Any, Any], actual: dict[Any, Any], limit: int = 10) -> list[str]:
    """Human-readable differences between two row sets (empty when equal)."""
    out = []
    for key in sorted(set(expected) | set(actual), key=repr):
        if expected.get(key) != actual.get(key):
            out.append(f"{key}: expected {expected.get(key)}, stored {actual.get(key)}")
            if len(out) >= limit:
                break
    return out


# -- stacks ------------------------------------------------------------------------------


@dataclass
class Stack:
    """A running Paceline app (all three services in-process) and a client for it."""

    mode: str
    settings: Settings
    app: FastAPI
    client: httpx.AsyncClient
    admin_key: str

    @property
    def db(self) -> Database:
        """The app's database."""
        db: Database = self.app.state.paceline.db
        return db

    def now(self) -> datetime:
        """The app's clock: a FixedClock where the test pins one, else the system clock."""
        now: datetime = self.app.state.paceline.clock.now()
        return now

    def runtime(self) -> Runtime:
        """The app's resources as the CLI's jobs take them (the demo's seeding and feed)."""
        state = self.app.state.paceline
        return Runtime(
            settings=self.settings,
            db=state.db,
            clock=state.clock,
            keys=state.keys,
            eventlog=state.eventlog,
            box=state.box,
        )

    def auth(self, key: str | None = None) -> dict[str, str]:
        """Authorization header for a key (the admin key by default)."""
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    async def post_events(
        self, events: Any, *, key: str | None = None, source: str = "api"
    ) -> httpx.Response:
        """POST /v1/events with JSON."""
        return await self.client.post(
            f"/v1/events?source={source}", json=events, headers=self.auth(key)
        )

    async def wait_scored(self, timeout_s: float = 90.0) -> None:
        """Wait until scoring has applied everything the log holds."""
        eventlog = self.app.state.paceline.eventlog
        deadline = time.monotonic() + timeout_s
        while True:
            ends = await eventlog.end_offsets()
            async with self.db.transaction(write=False) as session:
                rows = (
                    await session.execute(
                        select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                            ConsumerOffset.group_id == self.settings.consumer_group,
                            ConsumerOffset.topic == self.settings.topic,
                        )
                    )
                ).all()
            done = {int(p): int(o) for p, o in rows}
            if (
                all(done.get(p, 0) >= end for p, end in ends.items() if end > 0)
                and await self._alerts_checked()
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"scoring did not catch up: log {ends}, applied {done}")
            await asyncio.sleep(0.05)

    async def _alerts_checked(self) -> bool:
        """Whether the alert engine has checked every stored event.

        Its checks run after the worker commits a batch (``after_commit``), so the
        consumer offsets alone can be ahead of the data-quality flags for a moment.
        """
        if self.app.state.paceline.extras.get("alerts") is None:
            return True
        async with self.db.transaction(write=False) as session:
            stored = await stored_up_to(session)
            cursor = await checked_up_to(session)
        return all(cursor.get(p, 0) >= end for p, end in stored.items())


def embedded_settings(data_dir: Path, **extra: Any) -> Settings:
    """Settings of an embedded stack in a directory."""
    return Settings(
        environment="test",
        data_dir=data_dir,
        embedded_partitions=3,
        scoring_poll_timeout_s=0.05,
        **extra,
    )


def distributed_settings(database_url: str, kafka_bootstrap: str, **extra: Any) -> Settings:
    """Settings of a PostgreSQL + Kafka stack with a topic and group of its own."""
    suffix = uuid.uuid4().hex[:10]
    return Settings(
        environment="test",
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        kafka_partitions=3,
        topic=f"paceline.test.{suffix}",
        alerts_topic=f"paceline.test-alerts.{suffix}",
        consumer_group=f"scoring-{suffix}",
        append_timeout_s=5.0,
        scoring_poll_timeout_s=0.05,
        **extra,
    )


_SQLITE_PREFIX = "sqlite+aiosqlite:///"
_sqlite_template: Path | None = None
_template_lock = threading.Lock()


def prepare_database(url: str) -> None:
    """Bring a test database to the current schema, copying a migrated template if it can.

    A new SQLite file is copied (with SQLite's backup API) from a template migrated once
    per process; a PostgreSQL database made from the session template is ready as is.
    Anything else (an existing file, another database) gets the real migrations.
    """
    global _sqlite_template
    if url in MIGRATED:
        return
    if url.startswith(_SQLITE_PREFIX):
        target = Path(url.removeprefix(_SQLITE_PREFIX))
        if not target.exists():
            with _template_lock:
                if _sqlite_template is None:
                    template = Path(tempfile.mkdtemp(prefix="paceline-tmpl-")) / "template.db"
                    upgrade(_SQLITE_PREFIX + str(template))
                    _sqlite_template = template
            with (
                closing(sqlite3.connect(_sqlite_template)) as src,
                closing(sqlite3.connect(target)) as dst,
            ):
                src.backup(dst)
            return
    upgrade(url)


@asynccontextmanager
async def running_stack(
    mode: str, settings: Settings, *, clock: Clock | None = None
) -> AsyncIterator[Stack]:
    """Migrate, start the app's lifespan, hand out a client, and stop it all afterwards."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(prepare_database, settings.effective_database_url)
    app = build_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        key = generate_key()
        db: Database = app.state.paceline.db
        async with db.transaction() as session:
            await tenant_repo.add_key(
                session,
                tenant_id=settings.default_tenant,
                key=key,
                name="test",
                scopes=["admin"],
                now=app.state.paceline.clock.now(),
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://paceline.test"
        ) as client:
            yield Stack(
                mode=mode, settings=settings, app=app, client=client, admin_key=key.plaintext
            )
