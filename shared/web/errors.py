"""Render every error, ours or the framework's, in the one stable JSON shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paceline.shared.errors import FieldError, PacelineError, error_body

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


def request_id_of(request: Request) -> str | None:
    """The request id the middleware assigned."""
    return getattr(request.state, "request_id", None)


def _loc(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "(body)"


async def _paceline_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PacelineError)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    return JSONResponse(
        error_body(
            status=exc.status,
            code=exc.code,
            message=exc.message,
            fields=exc.fields,
            request_id=request_id_of(request),
        ),
        status_code=exc.status,
        headers=exc.headers(),
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        FieldError(
            _loc(tuple(e.get("loc", ()))),
            str(e.get("msg", "is not valid")).removeprefix("Value error, "),
        )
        for e in exc.errors()
    ]
    summary = "; ".join(f"{f.field}: {f.reason}" for f in fields[:3])
    return JSONResponse(
        error_body(
            status=422,
            code="invalid_input",
            message=f"the request is not valid: {summary}",
            fields=fields,
            request_id=request_id_of(request),
        ),
        status_code=422,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(
            status=exc.status_code,
            code=_CODES.get(exc.status_code, "error"),
            message=str(exc.detail),
            request_id=request_id_of(request),
        ),
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Two requests raced to create the same thing (a unique key): the loser gets a 409
    # it can retry, never a 500.
    log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        error_body(
            status=409,
            code="conflict",
            message="a concurrent request changed the same data; read it again and retry",
            request_id=request_id_of(request),
        ),
        status_code=409,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body(
            status=500,
            code="internal_error",
            message="an unexpected error occurred; it has been logged",
            request_id=request_id_of(request),
        ),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that produce the stable error shape."""
    app.add_exception_handler(PacelineError, _paceline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)
