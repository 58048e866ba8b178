"""``GET /v1/progress``."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.api.deps import KpiDep, MomentDep, PeriodDep, ScopeDep, TenantDep
from paceline.api.progress import service
from paceline.api.progress.schemas import ProgressOut
from paceline.shared.web.deps import ReadSessionDep, within_reach

router = APIRouter(prefix="/v1", tags=["progress"])


@router.get("/progress", response_model=ProgressOut, summary="Progress of a KPI")
@within_reach("scope")
async def get_progress(
    session: ReadSessionDep,
    tenant: TenantDep,
    kpi: KpiDep,
    period: PeriodDep,
    scope: ScopeDep,
    moment: MomentDep,
) -> ProgressOut:
    """Actual, target, expected, pace, projection and status at ``as_of``.

    With ``as_of`` given, the answer is what Paceline knew at that moment: events received
    later (corrections and reverts included) are not in it.
    """
    return await service.progress(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        as_of=moment.at,
        known=moment.known,
    )
