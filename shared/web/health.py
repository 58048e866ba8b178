"""Liveness and readiness endpoints, included by every service."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from paceline.shared import metrics
from paceline.shared.errors import PacelineError
from paceline.shared.web.deps import StateDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Process health."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "ok", "checks": {"database": "ok", "event_log": "ok"}}]
        }
    )

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}


@router.get("/healthz", response_model=Health, summary="Liveness: the process is up")
async def healthz() -> Health:
    """Answer ok while the process runs."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: the database and the event log answer",
    responses={503: {"model": Health}},
)
async def readyz(state: StateDep) -> JSONResponse:
    """Check the dependencies this process needs."""
    checks: dict[str, str] = {}
    ok = True
    try:
        await state.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports any failure as not ready
        ok = False
        checks["database"] = f"error: {type(exc).__name__}"
    if state.eventlog is not None:
        try:
            await state.eventlog.check()
            checks["event_log"] = "ok"
        except PacelineError as exc:
            ok = False
            checks["event_log"] = f"error: {exc.message}"
    body = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics() -> Response:
    """Ingest rate and results, events by type, consumer lag, batch latency, freshness."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
