"""Rows of the feed's entity sets, read through the services and the read model, paged.

* Facts page through the database in key order (kpi, rep_id, day): the filter narrows the
  fact queries (``/v1/facts``'s own: :func:`paceline.api.facts.repository.group_keys` and
  :func:`paceline.api.facts.service.rows_of_keys`) on the KPIs, days, reps, the rep's team
  on the day and the knowledge time of the latest change; every row is then checked
  against the whole filter. A page reads at most ``SCAN_FACTOR`` x the page size of keys
  (plus ``$skip``), so a filter that keeps few rows answers short pages with a next link.
* Progress is computed for the page's targets only: its filter and order use what the
  target says (kpi, scope, period, target_id).
* The other sets are a tenant's org chart, KPI catalog, targets and alerts: read whole,
  filtered, ordered and sliced here.

``$skiptoken`` holds where the next page starts (a position, or the last fact key) and how
many rows ``$top`` still allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.alerts import repository as alerts_repo
from paceline.api.facts import repository as facts_repo
from paceline.api.facts.service import rows_of_keys
from paceline.api.kpis.service import list_kpis
from paceline.api.odata.model import FACTS, PROGRESS, EntitySet
from paceline.api.odata.query import (
    Comparison,
    ODataError,
    Query,
    eq_values,
    lower_bound,
    matches,
    sort_rows,
    upper_bound,
)
from paceline.api.org import repository as org_repo
from paceline.api.progress.service import progress as progress_of
from paceline.shared.db.context import tenant_calendar, tenant_kpis
from paceline.shared.db.models import RepMembership, Target, Tenant
from paceline.shared.i18n import msg
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.progress import kpi_or_404, parse_period_or_422
from paceline.shared.readmodel.scopes import parse_scope

Row = dict[str, Any]

SCAN_FACTOR: Final = 10
MAX_FACT_SKIP: Final = 50_000
MAX_SKIP: Final = 1_000_000
# The most rows of a whole-read set (targets, versions, alerts) one request reads.
MAX_ROWS: Final = 200_000


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its rows, the next page's token (None: the last page), and the count
    of all matching rows when asked."""

    rows: list[Row]
    next_token: Any
    count: int | None = None


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _scope_parts(scope: str) -> tuple[str, str | None]:
    kind, _, ident = scope.partition(":")
    return kind, ident or None


# -- whole-read sets -----------------------------------------------------------------------


async def _kpis(session: AsyncSession, tenant: Tenant) -> list[Row]:
    return [
        {
            "kpi": k.key,
            "name_zh": k.names["zh-CN"],
            "name_en": k.names["en"],
            "unit": k.unit,
            "direction": k.direction,
            "category": k.category,
            "formula": k.formula,
            "builtin": k.builtin,
        }
        for k in await list_kpis(session, tenant_id=tenant.id)
    ]


async def _teams(session: AsyncSession, tenant: Tenant) -> list[Row]:
    return [
        {
            "team_id": t.id,
            "name": t.name,
            "parent_id": t.parent_id,
            "active": t.active,
            "updated_at": t.updated_at,
        }
        for t in await org_repo.teams(session, tenant_id=tenant.id)
    ]


async def _reps(session: AsyncSession, tenant: Tenant) -> list[Row]:
    return [
        {
            "rep_id": r.id,
            "name": r.name,
            "role": r.role,
            "active": r.active,
            "updated_at": r.updated_at,
        }
        for r in await org_repo.reps(session, tenant_id=tenant.id)
    ]


async def _names(session: AsyncSession, tenant: Tenant) -> tuple[dict[str, str], dict[str, str]]:
    reps = {r.id: r.name for r in await org_repo.reps(session, tenant_id=tenant.id)}
    teams = {t.id: t.name for t in await org_repo.teams(session, tenant_id=tenant.id)}
    return reps, teams


async def _memberships(session: AsyncSession, tenant: Tenant) -> list[Row]:
    reps, teams = await _names(session, tenant)
    return [
        {
            "membership_id": m.id,
            "rep_id": m.rep_id,
            "rep_name": reps.get(m.rep_id),
            "team_id": m.team_id,
            "team_name": teams.get(m.team_id),
            "valid_from": m.valid_from,
            "valid_to": m.valid_to,
        }
        for m in await org_repo.memberships(session, tenant_id=tenant.id)
    ]


async def _all_targets(session: AsyncSession, tenant: Tenant) -> list[Target]:
    return await targets_repo.search(
        session,
        tenant_id=tenant.id,
        kpi=None,
        scope=None,
        period=None,
        parent_id=None,
        after_id=None,
        limit=MAX_ROWS,
    )


async def _target_versions(session: AsyncSession, tenant: Tenant) -> list[Row]:
    targets = await _all_targets(session, tenant)
    versions = await targets_repo.versions(
        session, tenant_id=tenant.id, target_ids=[t.id for t in targets]
    )
    rows = []
    for t in targets:
        kind, ident = _scope_parts(t.scope)
        for v in versions[t.id]:
            rows.append(
                {
                    "target_id": t.id,
                    "kpi": t.kpi,
                    "scope": t.scope,
                    "scope_kind": kind,
                    "scope_id": ident,
                    "period": t.period,
                    "period_kind": t.period_kind,
                    "start": t.start,
                    "end": t.end,
                    "parent_id": t.parent_id,
                    "version": v.version,
                    "baseline": _dec(v.baseline),
                    "target": _dec(v.target),
                    "stretch": _dec(v.stretch),
                    "recorded_at": v.recorded_at,
                    "author": v.author,
                    "reason": v.reason,
                    "is_current": v.version == t.current_version,
                }
            )
    return rows


async def _targets(session: AsyncSession, tenant: Tenant) -> list[Row]:
    rows = []
    for row in await _target_versions(session, tenant):
        if row.pop("is_current"):
            rows.append(row)
    return rows


async def _alerts(session: AsyncSession, tenant: Tenant, terms: Sequence[Comparison]) -> list[Row]:
    alerts = await alerts_repo.search(
        session,
        tenant_id=tenant.id,
        kinds=[],
        statuses=[],
        types=[],
        severities=[],
        scopes=None,
        since=lower_bound(terms, "last_seen_at"),
        until=None,
        before_id=None,
        limit=MAX_ROWS,
    )
    return [
        {
            "alert_id": a.id,
            "kind": a.kind,
            "type": a.type,
            "scope": a.scope,
            "severity": a.severity,
            "status": a.status,
            "title": a.title,
            "occurrences": int(a.occurrences),
            "first_seen_at": a.first_seen_at,
            "last_seen_at": a.last_seen_at,
            "acknowledged_at": a.acknowledged_at,
            "acknowledged_by": a.acknowledged_by,
            "resolved_at": a.resolved_at,
        }
        for a in reversed(alerts)
    ]


Source = Callable[[AsyncSession, Tenant], Awaitable[list[Row]]]
SOURCES: Final[dict[str, Source]] = {
    "Kpis": _kpis,
    "Teams": _teams,
    "Reps": _reps,
    "Memberships": _memberships,
    "Targets": _targets,
    "TargetVersions": _target_versions,
}


def _position(token: Any) -> tuple[int, int | None]:
    """(offset, rows $top still allows) of a whole-read set's token."""
    if token is None:
        return 0, None
    if (
        isinstance(token, dict)
        and isinstance(token.get("p"), int)
        and token["p"] >= 0
        and (token.get("l") is None or (isinstance(token["l"], int) and token["l"] > 0))
    ):
        return int(token["p"]), token.get("l")
    raise ODataError("$skiptoken", msg("odata.bad_token"))


def slice_rows(rows: list[Row], entity: EntitySet, q: Query, *, page_size: int) -> Page:
    """Filter, order, count and cut one page out of a whole set."""
    kept = [r for r in rows if matches(r, q.filter)]
    sort_rows(kept, q.orderby or tuple((k, False) for k in entity.key))
    if q.token is not None:
        start, left = _position(q.token)
    else:
        start, left = q.skip, q.top
    size = page_size if left is None else min(page_size, left)
    page = kept[start : start + size]
    end = start + len(page)
    more = end < len(kept) and (left is None or left > len(page))
    token = {"p": end, "l": None if left is None else left - len(page)} if more else None
    return Page(page, token, len(kept) if q.count else None)


# -- progress ------------------------------------------------------------------------------


def _pinned(token: Any) -> datetime | None:
    """The instant the first page of a progress feed read (its next links carry it)."""
    if token is None or not isinstance(token, dict) or "a" not in token:
        return None
    try:
        at = datetime.fromisoformat(str(token["a"]))
    except ValueError:
        raise ODataError("$skiptoken", msg("odata.bad_token")) from None
    if at.tzinfo is None:
        raise ODataError("$skiptoken", msg("odata.bad_token"))
    return at


async def _progress_page(
    session: AsyncSession, *, tenant: Tenant, q: Query, now: datetime, page_size: int
) -> Page:
    # Every page of one read stands at the first page's instant, with what was known then
    # (as the progress export's pages do).
    pinned = _pinned(q.token)
    at = pinned or now
    today = at.astimezone(ZoneInfo(tenant.timezone)).date()
    current = [tg for tg in await _all_targets(session, tenant) if tg.start <= today < tg.end]
    by_id = {tg.id: tg for tg in current}
    heads = [
        {"target_id": tg.id, "kpi": tg.kpi, "scope": tg.scope, "period": tg.period}
        for tg in current
    ]
    page = slice_rows(heads, PROGRESS, q, page_size=page_size)
    rows = []
    for head in page.rows:
        tg = by_id[head["target_id"]]
        p = await progress_of(
            session,
            tenant=tenant,
            kpi=await kpi_or_404(session, tenant.id, tg.kpi),
            scope=parse_scope(tg.scope),
            period=parse_period_or_422(tg.period, tenant),
            as_of=at,
            known=pinned,
        )
        values = p.model_dump()
        row = {name: values.get(name) for name in PROGRESS.names}
        row.update(head)
        row["closed_months"] = " ".join(p.closed_months)
        rows.append(row)
    token = page.next_token
    if token is not None:
        token["a"] = at.isoformat()
    return Page(rows, token, page.count)


# -- facts ---------------------------------------------------------------------------------


def _team_on(memberships: Sequence[RepMembership], day: date) -> str | None:
    """The team a rep was in on a day (the latest membership begun by then)."""
    found: RepMembership | None = None
    for m in memberships:
        in_force = m.valid_from <= day and (m.valid_to is None or day < m.valid_to)
        if in_force and (found is None or m.valid_from >= found.valid_from):
            found = m
    return found.team_id if found is not None else None


def _fact_position(token: Any) -> tuple[tuple[str, str, date] | None, int | None]:
    if token is None:
        return None, None
    try:
        kpi, rep, day = token["k"]
        left = token.get("l")
        if not isinstance(kpi, str) or not isinstance(rep, str):
            raise TypeError("key")
        if left is not None and (not isinstance(left, int) or left <= 0):
            raise TypeError("left")
        return (kpi, rep, date.fromisoformat(day)), left
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ODataError("$skiptoken", msg("odata.bad_token")) from None


async def _facts_page(
    session: AsyncSession,
    *,
    tenant: Tenant,
    q: Query,
    page_size: int,
    changed_since: datetime | None,
) -> Page:
    if (
        q.orderby
        and q.orderby != (("kpi", False), ("rep_id", False), ("day", False))[: len(q.orderby)]
    ):
        raise ODataError("$orderby", msg("odata.orderby_facts"))
    if q.count:
        raise ODataError("$count", msg("odata.count_facts"))
    terms = q.filter
    if changed_since is not None:
        terms = (*terms, Comparison("changed_at", "ge", changed_since))
    kpi_terms = [c for c in terms if c.prop == "kpi"]
    kpis = sorted(
        (
            k
            for k in await tenant_kpis(session, tenant_id=tenant.id)
            if matches({"kpi": k.key}, kpi_terms)
        ),
        key=lambda k: k.key,
    )
    reps = eq_values(terms, "rep_id")
    teams = eq_values(terms, "team_id")
    if teams is not None and None in teams:
        teams = None  # reps in no team: checked row by row
    after_key, left = _fact_position(q.token)
    if q.token is None:
        left = q.top
    if not kpis or reps == [] or teams == [] or left == 0:
        return Page([], None)
    lo, hi = lower_bound(terms, "day"), upper_bound(terms, "day")
    if lo is None or hi is None:
        span = await facts_repo.fact_days(session, tenant_id=tenant.id, kpis=[k.key for k in kpis])
        if span is None:
            return Page([], None)
        lo = lo if lo is not None else span[0]
        hi = hi if hi is not None else span[1]
    if hi < lo:
        return Page([], None)
    start, end = lo, hi + timedelta(days=1)
    changed_lo = lower_bound(terms, "changed_at")
    size = page_size if left is None else min(page_size, left)
    skip = q.skip if q.token is None else 0
    budget = SCAN_FACTOR * size + skip
    calendar = await tenant_calendar(session, tenant=tenant)
    rep_names, team_names = await _names(session, tenant)
    member_of: dict[str, list[RepMembership]] = {}
    for m in await org_repo.memberships(session, tenant_id=tenant.id):
        member_of.setdefault(m.rep_id, []).append(m)
    company = parse_scope("company")
    out: list[Row] = []
    last: tuple[str, str, date] | None = None
    scanned = 0
    for kpi in kpis:
        if after_key is not None and kpi.key < after_key[0]:
            continue
        after: tuple[str, date] | None = (
            (after_key[1], after_key[2])
            if after_key is not None and kpi.key == after_key[0]
            else None
        )
        while len(out) < size and scanned < budget:
            chunk = max(1, min(FACTS.page_size, size - len(out) + skip, budget - scanned))
            keys = await facts_repo.group_keys(
                session,
                tenant_id=tenant.id,
                kpi=kpi.key,
                start=start,
                end=end,
                group_by=["rep", "day"],
                rep_ids=reps,
                team_ids=teams,
                after=after,
                limit=chunk,
                changed_since=changed_lo,
            )
            if not keys:
                break
            keys = [(str(r), d if isinstance(d, date) else date.fromisoformat(d)) for r, d in keys]
            rows = await rows_of_keys(
                session,
                tenant=tenant,
                kpi=kpi,
                scope=company,
                teams=teams,
                reps=reps,
                start=start,
                end=end,
                group_by=["rep", "day"],
                keys=keys,
                calendar=calendar,
            )
            changes = await facts_repo.last_changes(
                session,
                tenant_id=tenant.id,
                kpi=kpi.key,
                rep_ids=sorted({r for r, _ in keys}),
                start=min(d for _, d in keys),
                end=max(d for _, d in keys) + timedelta(days=1),
            )
            for (rep, day), row in zip(keys, rows, strict=True):
                scanned += 1
                last = (kpi.key, rep, day)
                after = (rep, day)
                team = _team_on(member_of.get(rep, []), day)
                full = {
                    "kpi": kpi.key,
                    "day": day,
                    "rep_id": rep,
                    "rep_name": rep_names.get(rep),
                    "team_id": team,
                    "team_name": team_names.get(team) if team is not None else None,
                    "value": _dec(row["value"]),
                    "numerator": _dec(row["numerator"]),
                    "denominator": _dec(row["denominator"]),
                    "sample": int(row["sample"]),
                    "changed_at": changes.get((rep, day)),
                }
                if not matches(full, terms):
                    continue
                if skip:
                    skip -= 1
                    continue
                out.append(full)
                if len(out) >= size:
                    break
            if len(keys) < chunk and len(out) < size:
                break  # this KPI has no more rows
        if len(out) >= size or scanned >= budget:
            break
    else:
        return Page(out, None)
    remaining = None if left is None else left - len(out)
    if last is None or remaining == 0:
        return Page(out, None)
    return Page(out, {"k": [last[0], last[1], last[2].isoformat()], "l": remaining})


# -- entry -----------------------------------------------------------------------------------


async def read_set(
    session: AsyncSession,
    *,
    tenant: Tenant,
    entity: EntitySet,
    q: Query,
    now: datetime,
    page_size: int,
    changed_since: datetime | None = None,
) -> Page:
    """One page of an entity set for the query."""
    if entity is FACTS:
        return await _facts_page(
            session, tenant=tenant, q=q, page_size=page_size, changed_since=changed_since
        )
    if entity is PROGRESS:
        return await _progress_page(session, tenant=tenant, q=q, now=now, page_size=page_size)
    if entity.name == "Alerts":
        rows = await _alerts(session, tenant, q.filter)
    else:
        rows = await SOURCES[entity.name](session, tenant)
    return slice_rows(rows, entity, q, page_size=page_size)
