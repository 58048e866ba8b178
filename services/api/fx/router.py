"""Exchange-rate routes: list, upsert (JSON), import (CSV), delete."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from paceline.api.deps import LocaleDep
from paceline.api.fx import service
from paceline.api.fx.schemas import (
    MAX_RATES,
    FxDeleteOut,
    FxImportOut,
    FxRateOut,
    FxRatesIn,
    FxUpsertOut,
)
from paceline.shared.web.deps import (
    AdminPrincipal,
    AuditDep,
    ReadPrincipal,
    ReadSessionDep,
    StateDep,
    WriteSessionDep,
)

router = APIRouter(prefix="/v1", tags=["fx"])

CurrencyPath = Annotated[str, Path(min_length=3, max_length=3, description="ISO 4217 code")]
_CSV_EXAMPLE = "currency,day,rate\nUSD,2026-11-02,7.1234\nEUR,2026-11-02,7.7\n"


async def _body(request: Request) -> bytes:
    """The raw request body (read before the write transaction opens)."""
    return await request.body()


BodyBytes = Annotated[bytes, Depends(_body)]


@router.get("/fx-rates", response_model=list[FxRateOut], summary="List exchange rates")
async def list_rates(
    principal: ReadPrincipal,
    session: ReadSessionDep,
    currency: Annotated[
        str | None, Query(min_length=3, max_length=3, description="Only this currency.")
    ] = None,
    start: Annotated[date | None, Query(alias="from", description="First day (inclusive).")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last day (exclusive).")] = None,
) -> list[FxRateOut]:
    """The tenant's rates (units of tenant currency per unit of ``currency``), by currency
    and day."""
    return await service.list_rates(
        session, tenant_id=principal.tenant_id, currency=currency, start=start, end=end
    )


@router.put(
    "/fx-rates",
    response_model=FxUpsertOut,
    summary="Store exchange rates",
    description=(
        f"Add or replace up to {MAX_RATES:,} rates, all or none: units of the tenant "
        "currency per unit of `currency`. A rate serves amounts from its day on for up to "
        "31 days. When a stored rate changes, `tenant.updated_at` moves, the facts are "
        "recomputed in the background (`rebuild_job_id`) and the `missing_fx_rate` alerts "
        "of the currencies given are resolved (the rebuild raises them again for amounts "
        "that still lack a rate)."
    ),
    responses={422: {"description": "A rate is not valid; each error names rates[i].field"}},
)
async def put_rates(
    body: FxRatesIn,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> FxUpsertOut:
    """Add or replace rates (all or none); facts are recomputed if a stored rate changed."""
    tenant = await service.tenant_for_update(session, tenant_id=principal.tenant_id)
    out = await service.put_rates(session, tenant=tenant, body=body, now=state.clock.now())
    await audit.record(
        "fx_rates.put",
        target="fx-rates",
        after={**body.model_dump(mode="json"), "result": out.model_dump(mode="json")},
    )
    return out


@router.post(
    "/fx-rates/import",
    response_model=FxImportOut,
    summary="Import exchange rates from CSV",
    description=(
        "Body: `text/csv` (UTF-8, a BOM is fine; another encoding with `; charset=...`) "
        "with a header row naming the columns `currency`, `day` (or `date`) and `rate` in "
        "any order and case; other columns are ignored. Good rows are stored as by "
        "`PUT /v1/fx-rates`; bad rows are listed in `rejected` by line number (the header "
        "is line 1) and do not stop the good ones. 422 if no row is valid, 415 for other "
        f"content types, 413 over {service.MAX_IMPORT_ROWS:,} rows."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
        }
    },
    responses={
        413: {"description": "Too many rows"},
        415: {"description": "Not text/csv"},
        422: {"description": "No row is valid, or the header lacks a column"},
    },
)
async def import_rates(
    request: Request,
    principal: AdminPrincipal,
    body: BodyBytes,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
    locale: LocaleDep,
) -> FxImportOut:
    """Store the good rows of a CSV file and name the bad ones."""
    tenant = await service.tenant_for_update(session, tenant_id=principal.tenant_id)
    out = await service.import_csv(
        session,
        tenant=tenant,
        body=body,
        content_type=request.headers.get("content-type"),
        now=state.clock.now(),
        locale=locale,
    )
    await audit.record("fx_rates.import", target="fx-rates", after=out.model_dump(mode="json"))
    return out


@router.delete(
    "/fx-rates/{currency}/{day}", response_model=FxDeleteOut, summary="Remove an exchange rate"
)
async def delete_rate(
    currency: CurrencyPath,
    day: date,
    principal: AdminPrincipal,
    session: WriteSessionDep,
    state: StateDep,
    audit: AuditDep,
) -> FxDeleteOut:
    """Remove one rate; facts are recomputed in the background."""
    tenant = await service.tenant_for_update(session, tenant_id=principal.tenant_id)
    before = [
        r.model_dump(mode="json")
        for r in await service.list_rates(
            session, tenant_id=tenant.id, currency=currency.upper(), start=day, end=None
        )
        if r.day == day
    ]
    out = await service.delete_rate(
        session, tenant=tenant, currency=currency, day=day, now=state.clock.now()
    )
    await audit.record(
        "fx_rates.delete",
        target=f"fx-rate:{out.currency}:{day}",
        before=before[0] if before else None,
        after=out.model_dump(mode="json"),
    )
    return out
