"""``GET /v1/progress``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from paceline.api.deps import TenantDep
from paceline.api.progress import service
from paceline.api.progress.schemas import ProgressOut
from paceline.shared.web.deps import ReadSessionDep, StateDep

router = APIRouter(prefix="/v1", tags=["progress"])


@router.get("/progress", response_model=ProgressOut, summary="Progress of a KPI")
async def get_progress(
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    kpi: Annotated[str, Query(min_length=1, max_length=64, description="A KPI key, e.g. revenue")],
    period: Annotated[str, Query(description="2026 (fiscal year), 2026-Q4, 2026-11 or 2026-W48")],
    scope: Annotated[str, Query(description="company, team:ID or rep:ID")] = "company",
    as_of: Annotated[
        datetime | None,
        Query(description="Read the period as it stood at this moment (default: now)."),
    ] = None,
) -> ProgressOut:
    """Actual, target, expected, pace, projection and status at ``as_of``."""
    return await service.progress(
        session,
        tenant=tenant,
        kpi_key=kpi,
        scope_text=scope,
        period_key=period,
        as_of=as_of or state.clock.now(),
    )
