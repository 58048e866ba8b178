"""The api service's routers."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.api.calendar.router import router as calendar_router
from paceline.api.facts.router import router as facts_router
from paceline.api.fx.router import router as fx_router
from paceline.api.kpis.router import router as kpis_router
from paceline.api.org.router import router as org_router
from paceline.api.progress.router import router as progress_router
from paceline.api.scorecards.router import router as scorecards_router
from paceline.api.settings.router import router as settings_router
from paceline.api.targets.router import router as targets_router
from paceline.api.templates.router import router as templates_router


def routers() -> list[APIRouter]:
    """Every router the api service serves."""
    return [
        org_router,
        settings_router,
        kpis_router,
        progress_router,
        targets_router,
        fx_router,
        calendar_router,
        facts_router,
        templates_router,
        scorecards_router,
    ]
