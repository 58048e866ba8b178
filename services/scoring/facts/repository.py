"""SQL of the scoring service: events, records, facts and log positions.

Every statement is set-based (one statement per table per batch), and works on
PostgreSQL and SQLite alike through their ``INSERT ... ON CONFLICT`` dialects. Fact rows
are written in key order so concurrent scoring workers (one per partition set) never
deadlock on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import String, and_, bindparam, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.scoring.facts.ledger import Applied
from paceline.shared.db.locks import lock_facts
from paceline.shared.db.models import (
    ConsumerOffset,
    Event,
    Fact,
    FactMember,
    LogReject,
    Record,
    Rep,
    Tenant,
)
from paceline.shared.db.models_history import FactAdjustment, FactChange, FactMemberChange
from paceline.shared.db.upsert import dialect_of, insert_for, insert_of
from paceline.shared.events import CanonicalEvent
from paceline.shared.kpi.records import FactDelta

T = TypeVar("T")
_CHUNK = 500


def _chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- log positions -----------------------------------------------------------------------


async def lock_positions(
    session: AsyncSession, *, group_id: str, topic: str, partitions: Iterable[int], now: datetime
) -> dict[int, int]:
    """The stored next offsets of these partitions, locked until the transaction ends."""
    parts = sorted(set(partitions))
    if not parts:
        return {}
    await session.execute(
        insert_for(session, ConsumerOffset)
        .values(
            [
                {
                    "group_id": group_id,
                    "topic": topic,
                    "partition": p,
                    "next_offset": 0,
                    "updated_at": now,
                }
                for p in parts
            ]
        )
        .on_conflict_do_nothing(index_elements=["group_id", "topic", "partition"])
    )
    stmt = (
        select(ConsumerOffset.partition, ConsumerOffset.next_offset)
        .where(
            ConsumerOffset.group_id == group_id,
            ConsumerOffset.topic == topic,
            ConsumerOffset.partition.in_(parts),
        )
        .order_by(ConsumerOffset.partition)
        .with_for_update()
    )
    return {int(p): int(o) for p, o in (await session.execute(stmt)).all()}


async def read_positions(session: AsyncSession, *, group_id: str, topic: str) -> dict[int, int]:
    """The stored next offset of every partition the group has processed."""
    stmt = select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
        ConsumerOffset.group_id == group_id, ConsumerOffset.topic == topic
    )
    return {int(p): int(o) for p, o in (await session.execute(stmt)).all()}


async def save_positions(
    session: AsyncSession,
    *,
    group_id: str,
    topic: str,
    positions: dict[int, int],
    now: datetime,
) -> None:
    """Store next offsets (in the transaction that stores the facts they produced)."""
    for p, off in sorted(positions.items()):
        await session.execute(
            update(ConsumerOffset)
            .where(
                ConsumerOffset.group_id == group_id,
                ConsumerOffset.topic == topic,
                ConsumerOffset.partition == p,
            )
            .values(next_offset=off, updated_at=now)
        )


# -- tenants -----------------------------------------------------------------------------


async def tenants_by_id(session: AsyncSession, *, ids: Iterable[str]) -> dict[str, Tenant]:
    """Tenants by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(select(Tenant).where(Tenant.id.in_(wanted)))
    return {t.id: t for t in rows}


async def known_reps(session: AsyncSession, *, tenant_id: str, rep_ids: Iterable[str]) -> set[str]:
    """Which of these rep ids the org chart knows."""
    wanted = sorted(set(rep_ids))
    if not wanted:
        return set()
    rows = await session.scalars(
        select(Rep.id).where(Rep.tenant_id == tenant_id, Rep.id.in_(wanted))
    )
    return set(rows.all())


# -- events ------------------------------------------------------------------------------


def _is_postgres(session: AsyncSession) -> bool:
    return bool(session.get_bind().dialect.name == "postgresql")


async def _pg_arrays(session: AsyncSession, sql: str, columns: Sequence[list[Any]]) -> list[Any]:
    """Run one statement that takes each column of a batch as one array parameter.

    PostgreSQL's fastest way short of ``COPY`` to write a batch: ``INSERT ... SELECT FROM
    unnest($1::text[], ...)`` is one prepared statement whatever the batch size, its
    parameters go over the wire in asyncpg's binary array encoding, and SQLAlchemy does no
    per-row parameter processing (multi-row VALUES with a dozen parameters per row spent
    most of scoring's write time there: docs/PERFORMANCE.md). The statement runs through
    the session's connection, inside its transaction.
    """
    conn = await session.connection()
    result = await conn.exec_driver_sql(sql, tuple(columns))
    return list(result.all()) if result.returns_rows else []


def _columns(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> list[list[Any]]:
    return [[r[n] for r in rows] for n in names]


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


_EVENT_COLUMNS = (
    ("tenant_id", "text"),
    ("source", "text"),
    ("event_id", "text"),
    ("type", "text"),
    ("record_id", "text"),
    ("version_rank", "text"),
    ("rep_id", "text"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("payload", "jsonb"),
    ("log_partition", "int"),
    ("log_offset", "bigint"),
)
_RECORD_COLUMNS = (
    ("tenant_id", "text"),
    ("type", "text"),
    ("record_id", "text"),
    ("event_pk", "bigint"),
    ("version_rank", "text"),
    ("rep_id", "text"),
    ("deleted", "bool"),
    ("state", "jsonb"),
    ("contributions", "jsonb"),
    ("first_day", "date"),
    ("last_day", "date"),
    ("updated_at", "timestamptz"),
    ("known_at", "timestamptz"),
)
_FACT_COLUMNS = (
    ("tenant_id", "text"),
    ("kpi", "text"),
    ("measure", "smallint"),
    ("rep_id", "text"),
    ("day", "date"),
    ("value", "bigint"),
    ("n", "bigint"),
)
_MEMBER_COLUMNS = (
    ("tenant_id", "text"),
    ("kpi", "text"),
    ("measure", "smallint"),
    ("rep_id", "text"),
    ("day", "date"),
    ("member", "text"),
    ("n", "bigint"),
)


def _unnest_insert(table: str, columns: Sequence[tuple[str, str]], tail: str) -> str:
    """``INSERT INTO table (...) SELECT ... FROM unnest($1::t[], ...)`` + ``tail``.

    JSON columns travel as text and are cast per row (asyncpg has no binary jsonb array
    encoding that would take our serializer).
    """
    names = ", ".join(n for n, _ in columns)
    arrays = ", ".join(
        f"${i}::{'text' if t == 'jsonb' else t}[]" for i, (_, t) in enumerate(columns, 1)
    )
    picks = ", ".join(f"u.{n}::jsonb" if t == "jsonb" else f"u.{n}" for n, t in columns)
    # Built once at import from this module's constants; values only ever go in as $n.
    sql = f"INSERT INTO {table} ({names}) SELECT {picks} FROM unnest({arrays}) AS u({names}) "  # noqa: S608
    return sql + tail


_PG_EVENTS = _unnest_insert(
    "events",
    _EVENT_COLUMNS,
    "ON CONFLICT (tenant_id, source, event_id) DO NOTHING "
    "RETURNING id, tenant_id, source, event_id",
)
_PG_RECORDS = _unnest_insert(
    "records",
    _RECORD_COLUMNS,
    "ON CONFLICT (tenant_id, type, record_id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _RECORD_COLUMNS[3:]),
)
_PG_FACTS = _unnest_insert(
    "kpi_facts",
    _FACT_COLUMNS,
    "ON CONFLICT (tenant_id, kpi, measure, rep_id, day) DO UPDATE SET "
    "value = kpi_facts.value + excluded.value, n = kpi_facts.n + excluded.n",
)
_PG_MEMBERS = _unnest_insert(
    "kpi_fact_members",
    _MEMBER_COLUMNS,
    "ON CONFLICT (tenant_id, kpi, measure, rep_id, day, member) DO UPDATE SET "
    "n = kpi_fact_members.n + excluded.n",
)


def _statement(session: AsyncSession, name: str, build: Callable[[Any], Any]) -> Any:
    """A statement built once per dialect and reused, so SQLAlchemy compiles it once.

    Rows go in as executemany parameters (``session.execute(stmt, rows)``); the dialects
    batch them into multi-row VALUES ("insertmanyvalues"), with RETURNING where asked.
    Building ``insert().values(rows)`` per batch instead compiled a new statement every
    time, which was most of a batch's cost (bench/pipeline.py, profiled).
    """
    dialect = dialect_of(session)
    key = (dialect, name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build(lambda table: insert_of(dialect, table))
    return stmt


_STATEMENTS: dict[tuple[str, str], Any] = {}


async def insert_new_events(
    session: AsyncSession, *, rows: Sequence[dict[str, Any]]
) -> dict[tuple[str, str, str], int]:
    """Insert events not stored yet; (tenant, source, event_id) -> id of each new one."""
    if not rows:
        return {}
    if _is_postgres(session):
        cols = _columns(rows, [n for n, _ in _EVENT_COLUMNS])
        cols[9] = [_json_text(p) for p in cols[9]]
        found = await _pg_arrays(session, _PG_EVENTS, cols)
        return {(t, src, e): int(pk) for pk, t, src, e in found}
    stmt = _statement(
        session,
        "events",
        lambda insert: (
            insert(Event)
            .on_conflict_do_nothing(index_elements=["tenant_id", "source", "event_id"])
            .returning(Event.id, Event.tenant_id, Event.source, Event.event_id)
        ),
    )
    result = await session.execute(stmt, list(rows))
    return {(t, src, e): int(pk) for pk, t, src, e in result.all()}


async def add_rejects(session: AsyncSession, *, rows: Sequence[dict[str, Any]]) -> None:
    """Keep log records the scoring service could not read, with the reason."""
    if rows:
        await session.execute(insert_for(session, LogReject).values(list(rows)))


# -- records -----------------------------------------------------------------------------


async def load_records(
    session: AsyncSession, *, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Record]:
    """Stored record states by (tenant, type, record_id)."""
    out: dict[tuple[str, str, str], Record] = {}
    wanted = sorted(set(keys))
    if wanted and session.get_bind().dialect.name == "postgresql":
        # A join with the keys as three arrays: PostgreSQL plans a row-value IN list of a
        # thousand keys poorly (~60 ms a batch in bench/pipeline.py's profile); the join
        # is primary-key look-ups, and one statement whatever the batch size.
        found = await session.scalars(
            _RECORDS_BY_KEYS,
            {
                "ts": [k[0] for k in wanted],
                "tys": [k[1] for k in wanted],
                "ids": [k[2] for k in wanted],
            },
        )
        for rec in found.all():
            out[(rec.tenant_id, rec.type, rec.record_id)] = rec
        return out
    for chunk in _chunks(wanted):
        stmt = select(Record).where(
            tuple_(Record.tenant_id, Record.type, Record.record_id).in_(list(chunk))
        )
        for rec in (await session.scalars(stmt)).all():
            out[(rec.tenant_id, rec.type, rec.record_id)] = rec
    return out


_KEYS = (
    func.unnest(
        bindparam("ts", type_=postgresql.ARRAY(String)),
        bindparam("tys", type_=postgresql.ARRAY(String)),
        bindparam("ids", type_=postgresql.ARRAY(String)),
    )
    .table_valued("t", "ty", "id")
    .render_derived()
)
_RECORDS_BY_KEYS = select(Record).join(
    _KEYS,
    and_(
        Record.tenant_id == _KEYS.c.t,
        Record.type == _KEYS.c.ty,
        Record.record_id == _KEYS.c.id,
    ),
)


def _record_upsert(insert: Any) -> Any:
    stmt = insert(Record)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "type", "record_id"],
        set_={
            name: getattr(stmt.excluded, name)
            for name in (
                "event_pk",
                "version_rank",
                "rep_id",
                "deleted",
                "state",
                "contributions",
                "first_day",
                "last_day",
                "updated_at",
                "known_at",
            )
        },
    )


async def upsert_records(session: AsyncSession, *, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace record states (in key order, so concurrent workers never deadlock)."""
    if not rows:
        return
    ordered = sorted(rows, key=lambda r: (r["tenant_id"], r["type"], r["record_id"]))
    if _is_postgres(session):
        cols = _columns(ordered, [n for n, _ in _RECORD_COLUMNS])
        cols[7] = [_json_text(v) for v in cols[7]]
        cols[8] = [_json_text(v) for v in cols[8]]
        await _pg_arrays(session, _PG_RECORDS, cols)
        return
    await session.execute(_statement(session, "records", _record_upsert), ordered)


# -- facts -------------------------------------------------------------------------------


def _fact_upsert(insert: Any) -> Any:
    stmt = insert(Fact)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "kpi", "measure", "rep_id", "day"],
        set_={"value": Fact.value + stmt.excluded.value, "n": Fact.n + stmt.excluded.n},
    )


def _member_upsert(insert: Any) -> Any:
    stmt = insert(FactMember)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "kpi", "measure", "rep_id", "day", "member"],
        set_={"n": FactMember.n + stmt.excluded.n},
    )


async def apply_fact_delta(session: AsyncSession, *, tenant_id: str, delta: FactDelta) -> None:
    """Add a batch's fact deltas; drop rows that fall back to nothing."""
    fact_rows = [
        {
            "tenant_id": tenant_id,
            "kpi": k,
            "measure": m,
            "rep_id": r,
            "day": d,
            "value": v[0],
            "n": v[1],
        }
        for (k, m, r, d), v in sorted(delta.facts.items())
    ]
    postgres = _is_postgres(session)
    if fact_rows and postgres:
        await _pg_arrays(session, _PG_FACTS, _columns(fact_rows, [n for n, _ in _FACT_COLUMNS]))
    elif fact_rows:
        await session.execute(_statement(session, "facts", _fact_upsert), fact_rows)
    member_rows = [
        {
            "tenant_id": tenant_id,
            "kpi": k,
            "measure": m,
            "rep_id": r,
            "day": d,
            "member": mem,
            "n": n,
        }
        for (k, m, r, d, mem), n in sorted(delta.members.items())
    ]
    if member_rows and postgres:
        await _pg_arrays(
            session, _PG_MEMBERS, _columns(member_rows, [n for n, _ in _MEMBER_COLUMNS])
        )
    elif member_rows:
        await session.execute(_statement(session, "members", _member_upsert), member_rows)
    # Rows that a retraction emptied: remove them, so the tables hold only live facts. A
    # row of a month's adjustments can hold a negative record count (a record booked out
    # of a closed month): only rows back at exactly nothing go.
    shrunk_facts = [(k, m, r, d) for (k, m, r, d), v in delta.facts.items() if v[1] < 0]
    for fact_keys in _chunks(sorted(shrunk_facts)):
        await session.execute(
            delete(Fact).where(
                Fact.tenant_id == tenant_id,
                tuple_(Fact.kpi, Fact.measure, Fact.rep_id, Fact.day).in_(list(fact_keys)),
                Fact.n == 0,
                Fact.value == 0,
            )
        )
    shrunk_members = [key for key, n in delta.members.items() if n < 0]
    for member_keys in _chunks(sorted(shrunk_members)):
        await session.execute(
            delete(FactMember).where(
                FactMember.tenant_id == tenant_id,
                tuple_(
                    FactMember.kpi,
                    FactMember.measure,
                    FactMember.rep_id,
                    FactMember.day,
                    FactMember.member,
                ).in_(list(member_keys)),
                FactMember.n <= 0,
            )
        )


async def delete_tenant_facts(
    session: AsyncSession, *, tenant_id: str, kpis: Sequence[str] | None = None
) -> None:
    """Remove a tenant's facts, change log and adjustments (all, or of some KPIs) before a
    rebuild."""
    for model in (Fact, FactMember, FactChange, FactMemberChange, FactAdjustment):
        cond = [model.tenant_id == tenant_id]
        if kpis is not None:
            cond.append(model.kpi.in_(list(kpis)))
        await session.execute(delete(model).where(and_(*cond)))


async def iter_records(
    session: AsyncSession, *, tenant_id: str, after: tuple[str, str] | None, limit: int
) -> list[Record]:
    """A page of a tenant's records in key order (for rebuilds)."""
    stmt = select(Record).where(Record.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(
            or_(
                Record.type > after[0],
                and_(Record.type == after[0], Record.record_id > after[1]),
            )
        )
    stmt = stmt.order_by(Record.type, Record.record_id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def fact_totals(
    session: AsyncSession, *, tenant_id: str
) -> dict[tuple[str, int, str, date], tuple[int, int]]:
    """Every fact row of a tenant (for audits and tests)."""
    stmt = select(Fact.kpi, Fact.measure, Fact.rep_id, Fact.day, Fact.value, Fact.n).where(
        Fact.tenant_id == tenant_id
    )
    return {
        (k, int(m), r, d): (int(v), int(n))
        for k, m, r, d, v, n in (await session.execute(stmt)).all()
    }


async def count_events(session: AsyncSession, *, tenant_id: str) -> int:
    """How many distinct events a tenant has had accepted."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Event).where(Event.tenant_id == tenant_id)
        )
        or 0
    )


async def lock_tenants(
    session: AsyncSession, *, tenant_ids: Iterable[str], exclusive: bool
) -> None:
    """Serialise fact rebuilds and month closes (exclusive) against streaming batches
    (shared), per tenant (:func:`paceline.shared.db.locks.lock_facts`)."""
    await lock_facts(session, tenant_ids=tenant_ids, exclusive=exclusive)


# -- change log and adjustments ----------------------------------------------------------

_CHANGE_COLUMNS = (
    ("tenant_id", "text"),
    ("kpi", "text"),
    ("measure", "smallint"),
    ("rep_id", "text"),
    ("day", "date"),
    ("known_at", "timestamptz"),
    ("value", "bigint"),
    ("n", "bigint"),
)
_MEMBER_CHANGE_COLUMNS = (
    ("tenant_id", "text"),
    ("kpi", "text"),
    ("measure", "smallint"),
    ("rep_id", "text"),
    ("day", "date"),
    ("member", "text"),
    ("known_at", "timestamptz"),
    ("n", "bigint"),
)
_PG_CHANGES = _unnest_insert(
    "kpi_fact_changes",
    _CHANGE_COLUMNS,
    "ON CONFLICT (tenant_id, kpi, measure, rep_id, day, known_at) DO UPDATE SET "
    "value = kpi_fact_changes.value + excluded.value, n = kpi_fact_changes.n + excluded.n",
)
_PG_MEMBER_CHANGES = _unnest_insert(
    "kpi_fact_member_changes",
    _MEMBER_CHANGE_COLUMNS,
    "ON CONFLICT (tenant_id, kpi, measure, rep_id, day, member, known_at) DO UPDATE SET "
    "n = kpi_fact_member_changes.n + excluded.n",
)


def _change_upsert(insert: Any) -> Any:
    stmt = insert(FactChange)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "kpi", "measure", "rep_id", "day", "known_at"],
        set_={"value": FactChange.value + stmt.excluded.value, "n": FactChange.n + stmt.excluded.n},
    )


def _member_change_upsert(insert: Any) -> Any:
    stmt = insert(FactMemberChange)
    return stmt.on_conflict_do_update(
        index_elements=["tenant_id", "kpi", "measure", "rep_id", "day", "member", "known_at"],
        set_={"n": FactMemberChange.n + stmt.excluded.n},
    )


async def add_changes(
    session: AsyncSession,
    *,
    rows: Sequence[dict[str, Any]],
    member_rows: Sequence[dict[str, Any]],
) -> None:
    """Append fact changes with their knowledge times (same-instant changes merge)."""
    postgres = _is_postgres(session)
    if rows and postgres:
        await _pg_arrays(session, _PG_CHANGES, _columns(rows, [n for n, _ in _CHANGE_COLUMNS]))
    elif rows:
        await session.execute(_statement(session, "changes", _change_upsert), list(rows))
    if member_rows and postgres:
        await _pg_arrays(
            session,
            _PG_MEMBER_CHANGES,
            _columns(member_rows, [n for n, _ in _MEMBER_CHANGE_COLUMNS]),
        )
    elif member_rows:
        await session.execute(
            _statement(session, "member_changes", _member_change_upsert), list(member_rows)
        )


async def add_adjustments(session: AsyncSession, *, rows: Sequence[dict[str, Any]]) -> None:
    """List changes that met a closed month (booked elsewhere, restated or frozen)."""
    for chunk in _chunks(list(rows)):
        await session.execute(insert_for(session, FactAdjustment).values(list(chunk)))


async def events_of_records(
    session: AsyncSession, *, tenant_id: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Applied]]:
    """Every stored event of these records, in log order (for rebuilds)."""
    out: dict[tuple[str, str], list[Applied]] = {}
    for chunk in _chunks(sorted(set(keys))):
        stmt = (
            select(
                Event.id,
                Event.type,
                Event.record_id,
                Event.payload,
                Event.received_at,
                Event.source,
            )
            .where(
                Event.tenant_id == tenant_id,
                tuple_(Event.type, Event.record_id).in_(list(chunk)),
            )
            .order_by(Event.id)
        )
        for pk, ty, rid, payload, received, source in (await session.execute(stmt)).all():
            out.setdefault((ty, rid), []).append(
                Applied(int(pk), CanonicalEvent.model_validate(payload), received, source)
            )
    return out
