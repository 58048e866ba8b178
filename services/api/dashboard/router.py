"""The dashboard: its page and files (``/dashboard/``), and the reads it needs (``/v1/dashboard``).

The page and its files need no key (they hold no data); every ``/v1/dashboard`` read needs
a key with the ``read`` scope, like the rest of the API, or a person's sign-in (the
session cookie, docs/SECURITY.md). The browser keeps a key in its own storage and sends
it as ``Authorization: Bearer``; a link may carry it in the URL *fragment*
(``/dashboard/#key=...``), which browsers never send to the server.

A person with a bounded reach (a manager, a rep) may use these reads: the figures come
for one scope, checked where the scope is parsed (``scope``); the context (names of the
org, KPIs, periods) and the change token hold no figures (``catalog``).
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from paceline.api.dashboard import service
from paceline.api.dashboard.schemas import (
    AdjustmentsListOut,
    ChangesOut,
    ContextOut,
    OverviewOut,
    SeriesOut,
)
from paceline.api.deps import KpiDep, MomentDep, PeriodDep, ScopeDep, TenantDep
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.web.app import api_routes
from paceline.shared.web.deps import ReadPrincipal, ReadSessionDep, StateDep, within_reach

pages = APIRouter(include_in_schema=False)
router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".md": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file of the dashboard, read once."""

    body: bytes
    media_type: str
    etag: str


def _walk(node: Traversable, prefix: str) -> dict[str, Traversable]:
    out: dict[str, Traversable] = {}
    for child in node.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            out.update(_walk(child, name + "/"))
        elif child.is_file():
            out[name] = child
    return out


@cache
def _assets() -> dict[str, Asset]:
    """Every file under ``static/`` by relative path (nothing outside it can be named)."""
    root = files("paceline.api.dashboard") / "static"
    out = {}
    for name, node in _walk(root, "").items():
        body = node.read_bytes()
        suffix = name[name.rfind(".") :] if "." in name else ""
        media_type = (
            _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        out[name] = Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
    return out


def _serve(request: Request, name: str) -> Response:
    asset = _assets().get(name)
    if asset is None:
        raise NotFound(msg("dashboard.no_file", name=name))
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@pages.get("/")
async def root() -> RedirectResponse:
    """The dashboard is the home page."""
    return RedirectResponse("/dashboard/", status_code=307)


@pages.get("/dashboard")
async def dashboard_redirect() -> RedirectResponse:
    """``/dashboard`` -> ``/dashboard/`` (its files are relative to the folder)."""
    return RedirectResponse("/dashboard/", status_code=307)


@pages.get("/dashboard/")
async def dashboard_page(request: Request) -> Response:
    """The dashboard's single page."""
    return _serve(request, "index.html")


@pages.get("/dashboard/{name:path}")
async def dashboard_file(request: Request, name: str) -> Response:
    """A file of the dashboard (scripts, styles, the chart library)."""
    return _serve(request, name)


@router.get("/context", response_model=ContextOut, summary="What the dashboard needs once")
@within_reach("filtered")
async def get_context(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    tenant: TenantDep,
    principal: ReadPrincipal,
) -> ContextOut:
    """Tenant settings, periods around today, teams, reps, KPIs, templates and features;
    for a manager or a rep, only the teams and reps within their reach."""
    paths = {str(r.path_format) for r in api_routes(request.app)}
    out = await service.context(
        session,
        tenant=tenant,
        scopes=principal.scopes,
        route_paths=paths,
        now=state.clock.now(),
    )
    return service.within(out, principal)


@router.get("/overview", response_model=OverviewOut, summary="Progress rows of a scope")
@within_reach("scope")
async def get_overview(
    session: ReadSessionDep,
    tenant: TenantDep,
    period: PeriodDep,
    scope: ScopeDep,
    moment: MomentDep,
    kpis: Annotated[
        str | None,
        Query(description="KPI keys, comma-separated (default: those with a target)."),
    ] = None,
) -> OverviewOut:
    """One ``GET /v1/progress`` answer per KPI that has a target for the scope and period."""
    return await service.overview(
        session,
        tenant=tenant,
        scope=scope,
        period=period,
        as_of=moment.at,
        known=moment.known,
        kpi_keys=[k.strip() for k in kpis.split(",") if k.strip()][:50] if kpis else None,
    )


@router.get("/series", response_model=SeriesOut, summary="A KPI day by day over a period")
@within_reach("scope")
async def get_series(
    session: ReadSessionDep,
    tenant: TenantDep,
    kpi: KpiDep,
    period: PeriodDep,
    scope: ScopeDep,
    moment: MomentDep,
) -> SeriesOut:
    """Cumulative actual (or running value for ratios), the expected curve and the target."""
    return await service.series(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        as_of=moment.at,
        known=moment.known,
    )


@router.get(
    "/adjustments",
    response_model=AdjustmentsListOut,
    summary="The adjustments behind a progress row",
)
@within_reach("scope")
async def get_adjustments(
    session: ReadSessionDep,
    tenant: TenantDep,
    kpi: KpiDep,
    period: PeriodDep,
    scope: ScopeDep,
    moment: MomentDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> AdjustmentsListOut:
    """The changes to closed months booked into this period for the scope: the row's
    ``adjusted`` and ``adjustments``, one by one with their cause."""
    return await service.adjustments(
        session,
        tenant=tenant,
        kpi=kpi,
        scope=scope,
        period=period,
        as_of=moment.at,
        known=moment.known,
        limit=limit,
    )


@router.get("/changes", response_model=ChangesOut, summary="Has anything changed?")
@within_reach("catalog")
async def get_changes(session: ReadSessionDep, state: StateDep, tenant: TenantDep) -> ChangesOut:
    """A token the dashboard polls: it changes when facts, alerts or targets change."""
    return await service.changes(
        session,
        tenant=tenant,
        group_id=state.settings.consumer_group,
        topic=state.settings.topic,
        now=state.clock.now(),
    )
