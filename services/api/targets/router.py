"""Target routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from paceline.api.deps import LocaleDep, TenantDep
from paceline.api.targets import service
from paceline.api.targets.schemas import (
    Acknowledgement,
    RevisionPreviewOut,
    TargetIn,
    TargetOut,
    TargetRevisedOut,
    TargetRevision,
)
from paceline.shared.web.deps import (
    ActingPrincipal,
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
    within_reach,
)
from paceline.shared.web.pagination import CursorQuery, int_cursor, page_limit, set_next_page

router = APIRouter(prefix="/v1", tags=["targets"])
TargetId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post(
    "/targets",
    response_model=TargetOut,
    status_code=201,
    summary="Create a target",
    responses={409: {"description": "A target for this KPI, scope and period exists: revise it"}},
)
async def create_target(
    body: TargetIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    tenant: TenantDep,
    audit: AuditDep,
) -> TargetOut:
    """A target for a KPI, a scope and a period, with optional baseline and stretch."""
    out = await service.create_target(
        session, tenant=tenant, body=body, author=principal.actor, now=state.clock.now()
    )
    await audit.record(
        "targets.create", target=f"target:{out.id}", after=out.model_dump(mode="json")
    )
    return out


@router.get("/targets", response_model=list[TargetOut], summary="List targets")
@within_reach("filtered")
async def list_targets(
    request: Request,
    response: Response,
    principal: ReadPrincipal,
    session: ReadSessionDep,
    locale: LocaleDep,
    kpi: str | None = None,
    scope: str | None = None,
    period: str | None = None,
    parent_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    cursor: CursorQuery = None,
    after_id: Annotated[
        int | None,
        Query(
            ge=0,
            le=2**63 - 1,
            deprecated=True,
            description="The last id of the previous page (older spelling of `cursor`).",
        ),
    ] = None,
    limit: Annotated[int, page_limit(1000)] = 200,
) -> list[TargetOut]:
    """Targets by KPI, scope, period or parent, in id order. A page is a JSON array; the
    next page's cursor is in `X-Next-Cursor` and `Link: <…>; rel="next"`."""
    targets, next_cursor = await service.list_targets(
        session,
        tenant_id=principal.tenant_id,
        reach=principal.reach,
        kpi=kpi,
        scope=scope,
        period=period,
        parent_id=parent_id,
        after_id=int_cursor(cursor, after_id),
        limit=limit,
        locale=locale,
    )
    set_next_page(request, response, next_cursor)
    return targets


@router.get("/targets/{target_id}", response_model=TargetOut, summary="A target and its versions")
@within_reach("filtered")
async def get_target(
    target_id: TargetId, principal: ReadPrincipal, session: ReadSessionDep, locale: LocaleDep
) -> TargetOut:
    """A target with every version (who, when, why, values)."""
    out = await service.get_target(
        session, tenant_id=principal.tenant_id, target_id=target_id, locale=locale
    )
    if not principal.sees(out.scope):
        raise service.not_found(target_id)
    return out


@router.put(
    "/targets/{target_id}",
    response_model=TargetRevisedOut,
    summary="Revise a target",
    description=(
        "New values as a new version; once the period has started a reason is required. "
        "The targets split from this one (children) are kept (`children: keep`, the default; "
        "`findings` then carries a `plan_mismatch` when they no longer add up) or re-split "
        "(`children: resplit`: the new values in the proportions of their current targets, "
        "largest remainder in the KPI's unit, each a new version with the same reason; "
        "`recursive: true` goes down every level). See the outcome first with "
        "`POST /v1/targets/{id}/revision-preview`."
    ),
)
async def revise_target(
    target_id: TargetId,
    body: TargetRevision,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    tenant: TenantDep,
    audit: AuditDep,
    locale: LocaleDep,
) -> TargetRevisedOut:
    """New values as a new version, the children kept or re-split."""
    before = await service.get_target(
        session, tenant_id=tenant.id, target_id=target_id, locale=locale
    )
    out = await service.revise_target(
        session,
        tenant=tenant,
        target_id=target_id,
        body=body,
        author=principal.actor,
        now=state.clock.now(),
        locale=locale,
    )
    await audit.record(
        "targets.revise",
        target=f"target:{target_id}",
        before=before.model_dump(mode="json"),
        after=out.model_dump(mode="json", exclude={"children_revised"})
        | {"children": body.children, "recursive": body.recursive},
    )
    for child in out.children_revised:
        await audit.record(
            "targets.resplit",
            target=f"target:{child.id}",
            before={
                "target": str(child.old_target),
                "baseline": None if child.old_baseline is None else str(child.old_baseline),
                "stretch": None if child.old_stretch is None else str(child.old_stretch),
            },
            after=child.model_dump(mode="json") | {"from_target": target_id, "reason": body.reason},
        )
    return out


@router.post(
    "/targets/{target_id}/revision-preview",
    response_model=RevisionPreviewOut,
    summary="Preview a revision",
    description=(
        "The same body as `PUT /v1/targets/{id}`, validated the same way; answers the new "
        "values of every target a re-split would revise (`changes`) and the `plan_mismatch` "
        "findings the plan tree would still have (its parents included). Saves nothing."
    ),
)
async def preview_revision(
    target_id: TargetId,
    body: TargetRevision,
    principal: AdminPrincipal,
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    locale: LocaleDep,
) -> RevisionPreviewOut:
    """What the revision would do, saving nothing."""
    return await service.preview_revision(
        session,
        tenant=tenant,
        target_id=target_id,
        body=body,
        now=state.clock.now(),
        locale=locale,
    )


@router.post(
    "/targets/{target_id}/acknowledge", response_model=TargetOut, summary="Acknowledge a target"
)
@within_reach("filtered")
async def acknowledge_target(
    target_id: TargetId,
    body: Acknowledgement,
    principal: ActingPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> TargetOut:
    """Record that the target's current version was acknowledged, by whom and when: the
    rep's own act (their key or sign-in), or recorded on their behalf by their manager or
    an admin (``acknowledged_recorded_by`` says who)."""
    out = await service.acknowledge_target(
        session,
        principal=principal,
        target_id=target_id,
        body=body,
        now=state.clock.now(),
    )
    await audit.record(
        "targets.acknowledge",
        target=f"target:{target_id}",
        after={
            "by": out.acknowledged_by,
            "recorded_by": out.acknowledged_recorded_by,
            "at": out.acknowledged_at,
            "version": out.acknowledged_version,
        },
    )
    return out
