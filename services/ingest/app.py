"""The ingest service's routers."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.ingest.events.router import router as events_router
from paceline.ingest.imports.router import router as imports_router
from paceline.ingest.webhooks.config.router import router as connectors_router
from paceline.ingest.webhooks.quarantine.router import router as quarantine_router
from paceline.ingest.webhooks.router import router as webhooks_router


def routers() -> list[APIRouter]:
    """Every router the ingest service serves."""
    return [events_router, imports_router, webhooks_router, connectors_router, quarantine_router]
