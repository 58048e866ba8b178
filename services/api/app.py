"""The api service's routers."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.api.kpis.router import router as kpis_router
from paceline.api.org.router import router as org_router
from paceline.api.progress.router import router as progress_router
from paceline.api.settings.router import router as settings_router


def routers() -> list[APIRouter]:
    """Every router the api service serves."""
    return [org_router, settings_router, kpis_router, progress_router]
