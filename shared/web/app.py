"""The FastAPI application factory every service uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI

from paceline import __version__
from paceline.shared.web.errors import install_error_handlers
from paceline.shared.web.health import router as health_router
from paceline.shared.web.middleware import BodyLimitMiddleware, RequestIdMiddleware

API_DESCRIPTION = """\
Paceline turns CRM activity into live sales-KPI facts, progress, pace, scorecards and
alerts. Authenticate with `Authorization: Bearer <API key>`. Errors share one shape:
`{"error": {"code", "status", "message", "fields": [{"field", "reason"}], "request_id"}}`.
"""


def create_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    lifespan: Any,
    max_body_bytes: int,
) -> FastAPI:
    """A FastAPI app with Paceline's error shape, request ids, limits and health routes."""
    app = FastAPI(
        title=title,
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(RequestIdMiddleware)  # added last: runs first
    app.include_router(health_router)
    for router in routers:
        app.include_router(router)
    return app
