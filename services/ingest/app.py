"""The ingest service's routers."""

from __future__ import annotations

from fastapi import APIRouter

from paceline.ingest.events.router import router as events_router


def routers() -> list[APIRouter]:
    """Every router the ingest service serves."""
    return [events_router]
