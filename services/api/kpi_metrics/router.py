"""``GET /v1/metrics/kpis``: the opt-in Prometheus KPI exporter."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from paceline.api.deps import NowDep, TenantDep
from paceline.api.kpi_metrics import service
from paceline.shared.web.deps import ReadSessionDep, StateDep

router = APIRouter(prefix="/v1", tags=["metrics"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Gauges in the Prometheus text exposition format (version 0.0.4)",
        "content": {CONTENT_TYPE_PLAIN_0_0_4: {"schema": {"type": "string"}}},
    },
    404: {
        "description": "The tenant has not turned the exporter on (settings: kpi_exporter)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}


@router.get(
    "/metrics/kpis",
    summary="KPI gauges for Prometheus",
    response_class=Response,
    responses=RESPONSES,
)
async def get_kpi_metrics(
    request: Request,
    session: ReadSessionDep,
    tenant: TenantDep,
    now: NowDep,
    state: StateDep,
) -> Response:
    """Actual, target, expected and pace of every company and team target of the current
    periods, as ``GET /v1/progress`` answers them now (docs/OPERATIONS.md, "KPI exporter").
    Off unless the tenant's setting ``kpi_exporter`` is true: 404 ``kpi_exporter_off``."""
    service.require_enabled(tenant)
    snap = await service.snapshot(
        session, tenant=tenant, now=now, max_targets=state.settings.kpi_exporter_max_targets
    )
    return Response(service.render(snap), media_type=CONTENT_TYPE_PLAIN_0_0_4)
