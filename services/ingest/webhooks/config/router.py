"""``/v1/connectors``: per-tenant CRM connectors — endpoints, secrets, field mappings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response

from paceline.ingest.webhooks import repository as repo
from paceline.ingest.webhooks.adapters import adapter_for
from paceline.ingest.webhooks.config import service
from paceline.ingest.webhooks.config.schemas import AdapterOut, ConnectorIn, ConnectorOut, RotateIn
from paceline.ingest.webhooks.mapping import Mapping
from paceline.ingest.webhooks.quarantine.service import retry_fixable
from paceline.ingest.webhooks.router import SOURCE_PATTERN
from paceline.shared.i18n import locale_of
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["connectors"])

SourcePath = Annotated[
    str,
    Path(
        pattern=SOURCE_PATTERN,
        description="hubspot, pipedrive, salesforce, zoho, or any name for a generic connector",
    ),
]


@router.get(
    "/connector-adapters",
    response_model=list[AdapterOut],
    summary="List CRM adapters, their options and default mappings",
)
async def list_adapters(request: Request, principal: ReadPrincipal) -> list[AdapterOut]:
    """Every adapter: settings and secrets it takes, its docs, its default mapping; titles,
    descriptions and notes in the request's language (Accept-Language, else the tenant's)."""
    return service.adapters(locale_of(request.headers.get("accept-language"), principal.locale))


@router.get("/connectors", response_model=list[ConnectorOut], summary="List connectors")
async def list_connectors(principal: ReadPrincipal, session: ReadSessionDep) -> list[ConnectorOut]:
    """The tenant's connectors (secrets redacted)."""
    rows = await repo.list_connectors(session, tenant_id=principal.tenant_id)
    return [service.to_out(r) for r in rows]


@router.get("/connectors/{source}", response_model=ConnectorOut, summary="Get a connector")
async def get_connector(
    source: SourcePath, principal: ReadPrincipal, session: ReadSessionDep
) -> ConnectorOut:
    """One connector (secrets redacted)."""
    return service.to_out(await service.get(session, tenant_id=principal.tenant_id, source=source))


@router.put(
    "/connectors/{source}",
    response_model=ConnectorOut,
    summary="Create or replace a connector",
    description=(
        "Creates the connector (201) with an unguessable endpoint id, or replaces its "
        "settings (200). Secrets are stored encrypted and never returned; omitted secrets "
        "keep their stored values; secrets Paceline can generate are made up when missing "
        "and returned once in `generated_secrets`. Without `mapping`, a new connector gets "
        "the adapter's default mapping. When the connector has a vendor API credential "
        "(`access_token`, `api_token`), pending quarantine items it can fix (`incomplete`, "
        "`enrichment_failed`) are retried right after the answer (at most 200; the rest with "
        "`POST /v1/quarantine/replay`). Audited."
    ),
    responses={201: {"description": "Created"}, 422: {"description": "Not valid (fields named)"}},
)
async def put_connector(
    source: SourcePath,
    body: ConnectorIn,
    response: Response,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    auditor: AuditDep,
    background: BackgroundTasks,
) -> ConnectorOut:
    """Create or replace a connector."""
    assert state.box is not None
    out, created = await service.put(
        session,
        tenant_id=principal.tenant_id,
        source=source,
        body=body,
        box=state.box,
        auditor=auditor,
        now=state.clock.now(),
        allow_private=state.settings.outbound_private_allowed,
    )
    response.status_code = 201 if created else 200
    credentials = adapter_for(out.adapter).enrichment_credentials
    if not created and any(name in out.secrets for name in credentials):
        # After the commit (background tasks run once the answer is sent).
        background.add_task(
            retry_fixable, state, tenant_id=principal.tenant_id, source=source, auditor=auditor
        )
    return out


@router.get("/connectors/{source}/mapping", response_model=Mapping, summary="Get a mapping")
async def get_mapping(
    source: SourcePath, principal: ReadPrincipal, session: ReadSessionDep
) -> Mapping:
    """The connector's field mapping."""
    row = await service.get(session, tenant_id=principal.tenant_id, source=source)
    return Mapping.model_validate(row.mapping or {})


@router.put(
    "/connectors/{source}/mapping",
    response_model=Mapping,
    summary="Replace a mapping",
    description=(
        "Stages (won/lost/open), visit activity types, owner id -> rep_id, amount and "
        "currency fields, custom properties -> attributes, per vendor object type. Applies to "
        "webhooks received from now on; replay the quarantine "
        "(`POST /v1/quarantine/replay?source=`) to map what was kept. Audited."
    ),
)
async def put_mapping(
    source: SourcePath,
    body: Mapping,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    auditor: AuditDep,
) -> Mapping:
    """Replace the connector's mapping."""
    return await service.put_mapping(
        session,
        tenant_id=principal.tenant_id,
        source=source,
        mapping=body,
        auditor=auditor,
        now=state.clock.now(),
    )


@router.post(
    "/connectors/{source}/rotate",
    response_model=ConnectorOut,
    summary="Renew the endpoint id or generated secrets",
)
async def rotate_connector(
    source: SourcePath,
    body: RotateIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    auditor: AuditDep,
) -> ConnectorOut:
    """A new endpoint id (the old URL stops working) and/or new generated secrets."""
    assert state.box is not None
    return await service.rotate(
        session,
        tenant_id=principal.tenant_id,
        source=source,
        body=body,
        box=state.box,
        auditor=auditor,
        now=state.clock.now(),
    )


@router.delete(
    "/connectors/{source}", status_code=204, response_class=Response, summary="Delete a connector"
)
async def delete_connector(
    source: SourcePath,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    auditor: AuditDep,
) -> Response:
    """Delete a connector: its endpoint stops answering (snapshots and quarantine stay)."""
    await service.delete(
        session,
        tenant_id=principal.tenant_id,
        source=source,
        auditor=auditor,
        now=state.clock.now(),
    )
    return Response(status_code=204)
