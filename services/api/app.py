"""The api service's routers."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.api.alerts.router import router as alerts_router
from paceline.api.audit.router import router as audit_router
from paceline.api.calendar.router import router as calendar_router
from paceline.api.closes.router import router as closes_router
from paceline.api.dashboard.router import pages as dashboard_pages
from paceline.api.dashboard.router import router as dashboard_router
from paceline.api.exports.router import router as exports_router
from paceline.api.facts.router import router as facts_router
from paceline.api.fx.router import router as fx_router
from paceline.api.imports.router import router as imports_router
from paceline.api.incentives.router import router as incentives_router
from paceline.api.keys.router import router as keys_router
from paceline.api.kpi_metrics.router import router as kpi_metrics_router
from paceline.api.kpis.router import router as kpis_router
from paceline.api.org.router import router as org_router
from paceline.api.planning.router import router as planning_router
from paceline.api.progress.router import router as progress_router
from paceline.api.reviews.router import router as reviews_router
from paceline.api.scorecards.router import router as scorecards_router
from paceline.api.settings.router import router as settings_router
from paceline.api.subscriptions.router import router as subscriptions_router
from paceline.api.targets.router import router as targets_router
from paceline.api.templates.router import router as templates_router
from paceline.api.tenants.router import router as tenants_router
from paceline.api.users.router import router as users_router


def routers() -> list[APIRouter]:
    """Every router the api service serves."""
    return [
        org_router,
        users_router,
        settings_router,
        kpis_router,
        progress_router,
        kpi_metrics_router,
        planning_router,  # before targets: /v1/targets/suggestions is not a target id
        targets_router,
        imports_router,
        reviews_router,
        fx_router,
        calendar_router,
        closes_router,
        incentives_router,
        facts_router,
        exports_router,
        templates_router,
        scorecards_router,
        tenants_router,
        keys_router,
        audit_router,
        alerts_router,
        subscriptions_router,
        dashboard_router,
        dashboard_pages,  # last: /dashboard/{name:path} and / are catch-alls of their own
    ]
