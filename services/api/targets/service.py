"""Targets: create, read, list, revise (every revision a version), acknowledge.

A target belongs to a KPI, a scope (company, team, rep) and a period, and holds a target
value with an optional baseline (the floor) and stretch (the ambition), ordered by the
KPI's direction (baseline <= target <= stretch when higher is better, the reverse when
lower is better). Revisions never overwrite: each is a new version with who, when and
why; progress reads the version in force at its ``as_of``. A revision after the period
has started needs a reason. An acknowledgement is for one version: a revision asks for a
new one.

A target with children (targets whose ``parent_id`` is it) either keeps them as they are
(its ``plan_mismatch`` findings then say by how much they no longer add up) or has its
new values re-split over them (:mod:`paceline.api.targets.resplit`), each child a new
version with the revision's reason; :func:`preview_revision` shows either outcome first.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.targets import repository as writes
from paceline.api.targets.names import kpi_name, names_of
from paceline.api.targets.resplit import ChildChange, check_resplit, old_values, plan_resplit
from paceline.api.targets.schemas import (
    Acknowledgement,
    ChildRevisionOut,
    FindingOut,
    RevisionPreviewOut,
    TargetIn,
    TargetOut,
    TargetRevisedOut,
    TargetRevision,
    TargetVersionOut,
)
from paceline.api.targets.sums import (
    finding_out,
    mismatch_findings,
    parent_findings,
    tree_mismatches,
)
from paceline.shared.auth import Principal, Reach, reach_scopes
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Target, TargetVersion, Tenant
from paceline.shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from paceline.shared.i18n import DEFAULT_LOCALE, Msg, msg
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.kpi.planning.common import period_name, places_for
from paceline.shared.kpi.planning.decomposition import Values
from paceline.shared.readmodel import targets as repo
from paceline.shared.readmodel.org import require_known
from paceline.shared.readmodel.scopes import parse_scope


def _values(body: TargetIn | TargetRevision) -> writes.TargetValues:
    return writes.TargetValues(target=body.target, baseline=body.baseline, stretch=body.stretch)


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def unknown_kpi(key: str) -> InvalidInput:
    """422: the request names a KPI the tenant does not have."""
    return InvalidInput(
        msg("targets.errors.unknown_kpi", kpi=key),
        fields=[FieldError("kpi", msg("targets.errors.unknown_kpi", kpi=key))],
    )


def period_or_422(text: str, *, fiscal_year_start_month: int = 1, field: str = "period") -> Period:
    """A period key, or 422 naming the field (the parser's own message when it has one)."""
    try:
        return parse_period(text, fiscal_year_start_month=fiscal_year_start_month)
    except ValueError as exc:
        own = getattr(exc, "msg", None)
        reason = own if isinstance(own, Msg) else msg("targets.errors.bad_period", period=text)
        raise InvalidInput(reason, fields=[FieldError(field, reason)]) from None


def not_found(target_id: int) -> NotFound:
    """404: no such target (or not the caller's to see)."""
    return NotFound(msg("targets.not_found", id=str(target_id)))


def out_of_order() -> Msg:
    """The message of a 422 for values out of the KPI direction's order."""
    return msg("targets.errors.out_of_order")


def check_order(
    *, direction: str, target: Decimal, baseline: Decimal | None, stretch: Decimal | None
) -> list[FieldError]:
    """Baseline, target and stretch in the order the KPI's direction asks for."""
    errors = []
    higher = direction == "higher"
    if baseline is not None and (baseline > target if higher else baseline < target):
        errors.append(
            FieldError(
                "baseline",
                msg("targets.order.baseline_at_most")
                if higher
                else msg("targets.order.baseline_at_least"),
            )
        )
    if stretch is not None and (stretch < target if higher else stretch > target):
        errors.append(
            FieldError(
                "stretch",
                msg("targets.order.stretch_at_least")
                if higher
                else msg("targets.order.stretch_at_most"),
            )
        )
    return errors


def target_out(
    t: Target,
    current: TargetVersion,
    direction: str,
    versions: list[TargetVersion] | None = None,
    findings: list[FindingOut] | None = None,
) -> TargetOut:
    """A target with its current values (and history and findings when given)."""
    return TargetOut(
        id=t.id,
        kpi=t.kpi,
        scope=t.scope,
        period=t.period,
        period_kind=t.period_kind,
        start=t.start,
        end=t.end,
        parent_id=t.parent_id,
        version=t.current_version,
        target=Decimal(current.target),
        baseline=_dec(current.baseline),
        stretch=_dec(current.stretch),
        direction=direction,
        acknowledged=t.acknowledged_version == t.current_version,
        acknowledged_at=t.acknowledged_at,
        acknowledged_by=t.acknowledged_by,
        acknowledged_version=t.acknowledged_version,
        acknowledged_recorded_by=t.acknowledged_recorded_by,
        versions=[
            TargetVersionOut(
                version=v.version,
                target=Decimal(v.target),
                baseline=_dec(v.baseline),
                stretch=_dec(v.stretch),
                recorded_at=v.recorded_at,
                author=v.author,
                reason=v.reason,
            )
            for v in versions or []
        ],
        findings=findings or [],
    )


async def _direction(session: AsyncSession, tenant_id: str, kpi: str) -> str:
    found = await find_kpi(session, tenant_id=tenant_id, key=kpi)
    return found.direction if found is not None else "higher"


async def create_target(
    session: AsyncSession, *, tenant: Tenant, body: TargetIn, author: str, now: datetime
) -> TargetOut:
    """Create a target (version 1)."""
    kpi = await find_kpi(session, tenant_id=tenant.id, key=body.kpi)
    if kpi is None:
        raise unknown_kpi(body.kpi)
    scope = parse_scope(body.scope)
    await require_known(session, tenant_id=tenant.id, scope=scope)
    period = period_or_422(body.period, fiscal_year_start_month=tenant.fiscal_year_start_month)
    errors = check_order(
        direction=kpi.direction, target=body.target, baseline=body.baseline, stretch=body.stretch
    )
    if errors:
        raise InvalidInput(out_of_order(), fields=errors)
    if (
        body.parent_id is not None
        and await repo.get(session, tenant_id=tenant.id, target_id=body.parent_id) is None
    ):
        raise InvalidInput(
            msg("targets.errors.unknown_parent", id=str(body.parent_id)),
            fields=[FieldError("parent_id", msg("targets.errors.no_such_target"))],
        )
    if await repo.find(
        session, tenant_id=tenant.id, kpi=kpi.key, scope=str(scope), period=period.key
    ):
        names = await names_of(
            session, tenant_id=tenant.id, scopes=[str(scope)], currency=tenant.currency
        )
        raise Conflict(
            msg(
                "targets.errors.exists",
                kpi=kpi_name(kpi),
                scope=names.scope(str(scope)),
                period=period_name(period.key),
            )
        )
    row = writes.new_target(
        session,
        tenant_id=tenant.id,
        kpi=kpi.key,
        scope=str(scope),
        period=period,
        parent_id=body.parent_id,
        author=author,
        now=now,
    )
    await session.flush()
    version = writes.add_version(
        session, row=row, values=_values(body), author=author, reason=body.reason, now=now
    )
    await session.flush()
    return target_out(row, version, kpi.direction, [version])


async def get_target(
    session: AsyncSession, *, tenant_id: str, target_id: int, locale: str
) -> TargetOut:
    """A target with all its versions (its findings in ``locale``), or 404."""
    row = await repo.get(session, tenant_id=tenant_id, target_id=target_id)
    if row is None:
        raise not_found(target_id)
    versions = (await repo.versions(session, tenant_id=tenant_id, target_ids=[row.id]))[row.id]
    findings = await parent_findings(session, tenant_id=tenant_id, parents=[row], locale=locale)
    return target_out(
        row, versions[-1], await _direction(session, tenant_id, row.kpi), versions, findings[row.id]
    )


async def list_targets(
    session: AsyncSession,
    *,
    tenant_id: str,
    reach: Reach | None = None,
    kpi: str | None,
    scope: str | None,
    period: str | None,
    parent_id: int | None,
    after_id: int | None,
    limit: int,
    locale: str,
) -> tuple[list[TargetOut], str | None]:
    """Targets matching the filters (current values, no history), in id order, after
    ``after_id``; with a ``reach``, only the targets of scopes within it; and the cursor of
    the next page (the last id of this one) when there is one."""
    if scope is not None:
        scope = str(parse_scope(scope))
    if period is not None:  # the key as stored: 2026-q4 -> 2026-Q4, 2026-w5 -> 2026-W05
        period = period_or_422(period).key
    rows = await repo.search(
        session,
        tenant_id=tenant_id,
        kpi=kpi,
        scope=scope,
        period=period,
        parent_id=parent_id,
        after_id=after_id,
        limit=limit + 1,
        within=None if reach is None else reach_scopes(reach),
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    rows = rows[:limit]
    versions = await repo.versions(session, tenant_id=tenant_id, target_ids=[r.id for r in rows])
    findings = await parent_findings(session, tenant_id=tenant_id, parents=rows, locale=locale)
    directions: dict[str, str] = {}
    out = []
    for r in rows:
        if r.kpi not in directions:
            directions[r.kpi] = await _direction(session, tenant_id, r.kpi)
        out.append(target_out(r, versions[r.id][-1], directions[r.kpi], findings=findings[r.id]))
    return out, next_cursor


def _today(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(tenant.timezone)).date()


async def _checked_revision(
    session: AsyncSession,
    *,
    tenant: Tenant,
    target_id: int,
    body: TargetRevision,
    now: datetime,
    lock: bool,
) -> tuple[Target, str, list[ChildChange], int]:
    """The target, its KPI's direction, the re-split of what is below it and the decimals
    of the split, once the revision is valid (404, 422 otherwise)."""
    row = await repo.get(session, tenant_id=tenant.id, target_id=target_id, lock=lock)
    if row is None:
        raise not_found(target_id)
    kpi = await find_kpi(session, tenant_id=tenant.id, key=row.kpi)
    direction = kpi.direction if kpi is not None else "higher"
    errors = check_order(
        direction=direction, target=body.target, baseline=body.baseline, stretch=body.stretch
    )
    message = out_of_order() if errors else msg("targets.errors.invalid_revision")
    if body.recursive and body.children != "resplit":
        errors.append(FieldError("recursive", msg("targets.errors.recursive_needs_resplit")))
    if errors:
        raise InvalidInput(message, fields=errors)
    today = _today(tenant, now)
    if row.start <= today and not body.reason:
        raise InvalidInput(
            msg("targets.errors.reason_needed", period=period_name(row.period)),
            fields=[FieldError("reason", msg("targets.errors.reason_required"))],
        )
    changes: list[ChildChange] = []
    places = 0
    if body.children == "resplit":
        if kpi is None:
            raise InvalidInput(
                msg("targets.errors.kpi_gone", kpi=row.kpi),
                fields=[FieldError("children", msg("targets.errors.kpi_gone", kpi=row.kpi))],
            )
        places = places_for(kpi, tenant.currency)
        values = Values(body.target, body.baseline, body.stretch)
        check_resplit(kpi, values, places=places)
        changes = await plan_resplit(
            session,
            tenant_id=tenant.id,
            row=row,
            values=values,
            places=places,
            direction=direction,
            recursive=body.recursive,
            lock=lock,
        )
    return row, direction, changes, places


def _stored(value: Decimal | None) -> Decimal | None:
    """A value as a version stores it (``2070000.00`` -> ``2070000``)."""
    return None if value is None else Decimal(writes.as_text(value) or "0")


def _change_out(c: ChildChange, version: int | None) -> ChildRevisionOut:
    old = old_values(c.current)
    assert c.row.parent_id is not None
    return ChildRevisionOut(
        id=c.row.id,
        scope=c.row.scope,
        period=c.row.period,
        period_kind=c.row.period_kind,
        parent_id=c.row.parent_id,
        depth=c.depth,
        split=c.split,
        share=c.share,
        target=Decimal(writes.as_text(c.values.target) or "0"),
        baseline=_stored(c.values.baseline),
        stretch=_stored(c.values.stretch),
        old_target=old.target,
        old_baseline=old.baseline,
        old_stretch=old.stretch,
        version=version,
    )


async def preview_revision(
    session: AsyncSession,
    *,
    tenant: Tenant,
    target_id: int,
    body: TargetRevision,
    now: datetime,
    locale: str,
) -> RevisionPreviewOut:
    """What a revision would do (new values below it, findings left in ``locale``), saving
    nothing."""
    row, _, changes, places = await _checked_revision(
        session, tenant=tenant, target_id=target_id, body=body, now=now, lock=False
    )
    current = (await repo.current_versions(session, tenant_id=tenant.id, targets=[row]))[row.id]
    old = old_values(current)
    overrides = {row.id: body.target} | {c.row.id: c.values.target for c in changes}
    remaining = await tree_mismatches(
        session, tenant_id=tenant.id, seeds=[row], overrides=overrides
    )
    return RevisionPreviewOut(
        id=row.id,
        kpi=row.kpi,
        scope=row.scope,
        period=row.period,
        children=body.children,
        recursive=body.recursive,
        places=places,
        target=body.target,
        baseline=body.baseline,
        stretch=body.stretch,
        old_target=old.target,
        old_baseline=old.baseline,
        old_stretch=old.stretch,
        changes=[_change_out(c, None) for c in changes],
        findings=[
            finding_out(f, locale)
            for f in await mismatch_findings(session, tenant_id=tenant.id, found=remaining)
        ],
    )


async def revise_target(
    session: AsyncSession,
    *,
    tenant: Tenant,
    target_id: int,
    body: TargetRevision,
    author: str,
    now: datetime,
    locale: str = DEFAULT_LOCALE,
) -> TargetRevisedOut:
    """Record new values as a new version (and, with ``children: resplit``, the re-split
    values of the targets below it as new versions of them, with the same reason)."""
    row, direction, changes, _places = await _checked_revision(
        session, tenant=tenant, target_id=target_id, body=body, now=now, lock=True
    )
    version = writes.add_version(
        session, row=row, values=_values(body), author=author, reason=body.reason, now=now
    )
    revised = []
    for c in changes:
        values = writes.TargetValues(c.values.target, c.values.baseline, c.values.stretch)
        v = writes.add_version(
            session, row=c.row, values=values, author=author, reason=body.reason, now=now
        )
        revised.append(_change_out(c, v.version))
    await session.flush()
    versions = (await repo.versions(session, tenant_id=tenant.id, target_ids=[row.id]))[row.id]
    findings = await parent_findings(session, tenant_id=tenant.id, parents=[row], locale=locale)
    out = target_out(row, version, direction, versions, findings[row.id])
    return TargetRevisedOut(**out.model_dump(), children_revised=revised)


async def acknowledge_target(
    session: AsyncSession,
    *,
    principal: Principal,
    target_id: int,
    body: Acknowledgement,
    now: datetime,
) -> TargetOut:
    """Acknowledge the target's current version: the rep's own act, or recorded on their
    behalf by someone who may act on the target's scope (a manager of the rep's team, an
    admin); 404 outside what the caller sees, 403 when they may not act, 422 when ``by``
    is not the target's rep."""
    tenant_id = principal.tenant_id
    row = await repo.get(session, tenant_id=tenant_id, target_id=target_id)
    if row is None or not principal.sees(row.scope):
        raise not_found(target_id)
    names = await names_of(session, tenant_id=tenant_id, scopes=[row.scope], currency="CNY")
    if not principal.may_act_on(row.scope):
        raise Forbidden(msg("targets.errors.ack_forbidden", scope=names.scope(row.scope)))
    kind, _, ident = row.scope.partition(":")
    by = body.by
    if kind == "rep":
        if by is None:
            by = ident
        elif by != ident:
            raise InvalidInput(
                msg("targets.errors.ack_not_theirs", id=str(target_id), rep=names.scope(row.scope)),
                fields=[FieldError("by", msg("targets.errors.ack_must_be", rep=ident))],
            )
    elif by is None:
        raise InvalidInput(
            msg("targets.errors.ack_who"),
            fields=[FieldError("by", msg("targets.errors.ack_by_required"))],
        )
    row.acknowledged_at = now
    row.acknowledged_by = by
    row.acknowledged_recorded_by = principal.actor
    row.acknowledged_version = row.current_version
    await session.flush()
    versions = (await repo.versions(session, tenant_id=tenant_id, target_ids=[row.id]))[row.id]
    return target_out(row, versions[-1], await _direction(session, tenant_id, row.kpi), versions)
