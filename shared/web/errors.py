"""Render every error, ours or the framework's, in the one stable JSON shape."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from paceline.shared.errors import FieldError, PacelineError, error_body
from paceline.shared.i18n import Msg, locale_of, msg
from paceline.shared.i18n.validation import reason_of

__all__ = ["install_error_handlers", "reason_of", "request_id_of", "request_locale"]

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


def request_locale(request: Request) -> str:
    """The language of a request's answers: set by authentication (``Accept-Language``,
    else the tenant's locale); before it, ``Accept-Language`` or zh-CN."""
    chosen = getattr(request.state, "locale", None)
    return chosen if chosen else locale_of(request.headers.get("accept-language"))


def _answer(
    request: Request,
    status: int,
    code: str,
    message: str | Msg,
    *,
    fields: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in the stable shape, with the request's id."""
    return JSONResponse(
        error_body(
            status=status,
            code=code,
            message=message,
            fields=fields,
            request_id=request_id_of(request),
            locale=request_locale(request),
        ),
        status_code=status,
        headers=headers,
    )


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
    return _answer(
        request,
        exc.status,
        exc.code,
        exc.text if exc.text is not None else exc.message,
        fields=exc.fields,
        headers=exc.headers(),
    )


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _wrong_body_type(request: Request, exc: RequestValidationError) -> str | None:
    """The Content-Type of a body sent to a JSON route in another format, if that is why
    validation failed (FastAPI hands such a body over as raw bytes)."""
    route = request.scope.get("route")
    if getattr(route, "body_field", None) is None:
        return None
    content_type = request.headers.get("content-type", "")
    if _is_json(content_type):
        return None
    if any(
        tuple(e.get("loc", ())) == ("body",) and isinstance(e.get("input"), bytes | str)
        for e in exc.errors()
    ):
        return content_type or "(none)"
    return None


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    wrong_type = _wrong_body_type(request, exc)
    if wrong_type is not None:
        return _answer(
            request,
            415,
            "unsupported_media_type",
            msg("errors.body.not_json_type", content_type=wrong_type[:100]),
        )
    broken = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
    if broken is not None:
        # Malformed JSON is a 400 like everywhere else (not a field "[pos]" that failed).
        loc = tuple(broken.get("loc", ()))
        reason = str((broken.get("ctx") or {}).get("error", "JSON decode error"))
        return _answer(
            request,
            400,
            "bad_request",
            msg("errors.body.bad_json_at", reason=reason, at=str(loc[1]))
            if len(loc) > 1
            else msg("errors.body.bad_json", reason=reason),
        )
    fields = [FieldError(_loc(tuple(e.get("loc", ()))), reason_of(e)) for e in exc.errors()]
    return _answer(
        request,
        422,
        "invalid_input",
        msg(
            "errors.invalid_input",
            fields=[msg("errors.field_reason", field=f.field, reason=f.reason) for f in fields[:3]],
        ),
        fields=fields,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _answer(
        request,
        exc.status_code,
        _CODES.get(exc.status_code, "error"),
        exc.detail if isinstance(exc.detail, Msg) else _http_message(exc),
        headers=dict(exc.headers or {}),
    )


def _http_message(exc: StarletteHTTPException) -> Msg:
    """The framework's own errors (404 of an unknown path, 405) in the catalog's words."""
    known = {404: "errors.http.not_found", 405: "errors.http.method_not_allowed"}
    code = known.get(exc.status_code)
    if code is not None:
        return msg(code)
    return msg("errors.http.other", status=str(exc.status_code), detail=str(exc.detail))


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    # Two requests raced to create the same thing (a unique key): the loser gets a 409
    # it can retry, never a 500.
    log.info("integrity conflict on %s %s: %s", request.method, request.url.path, exc)
    return _answer(
        request,
        409,
        "conflict",
        msg("errors.db.concurrent"),
    )


def _is_data_error(exc: DBAPIError) -> bool:
    """A value the database refused: too long, out of range, NUL characters, bad encoding."""
    if isinstance(exc, DataError):
        return True
    error: BaseException | None = exc.orig
    while error is not None:
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith("22"):  # class 22: data exception
            return True
        if isinstance(error, ValueError | OverflowError):  # the driver could not encode a value
            return True
        error = error.__cause__
    return False


# SQLSTATE classes that mean "not now" rather than "wrong": connection exceptions (08),
# insufficient resources (53), operator intervention (57P: shutting down, starting up).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


def database_unavailable(exc: DBAPIError) -> bool:
    """Whether a database error means the database cannot serve now (503, retry).

    asyncpg reports a server that is starting up or shutting down as a plain DBAPIError
    (SQLSTATE 57P03 / 57P01), not an OperationalError, while connecting.
    """
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(code, str) and code.startswith(_UNAVAILABLE_SQLSTATES):
        return True
    orig = exc.orig
    return isinstance(orig, OSError) or (orig is not None and isinstance(orig.__cause__, OSError))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if _is_data_error(exc):
        # A value passed validation but not the database: a client error, never a 500.
        log.info("database refused a value on %s %s: %s", request.method, request.url.path, exc)
        return _answer(
            request,
            422,
            "invalid_input",
            msg("errors.db.value_refused"),
        )
    if database_unavailable(exc):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return _answer(
            request,
            503,
            "unavailable",
            msg("errors.db.unavailable"),
            headers={"Retry-After": "1"},
        )
    return await _unexpected(request, exc)


async def _connection_error(request: Request, exc: Exception) -> JSONResponse:
    # A connection the driver opens itself (asyncpg connecting during a PostgreSQL
    # restart) can fail with a bare ConnectionRefusedError that SQLAlchemy does not wrap
    # in a DBAPIError: the same "not now" as a wrapped one, so 503 and retry.
    log.warning("backend unavailable on %s %s: %r", request.method, request.url.path, exc)
    return _answer(
        request,
        503,
        "unavailable",
        msg("errors.db.unavailable"),
        headers={"Retry-After": "1"},
    )


async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
    # A number too large for the database (SQLite refuses integers past 64 bits with an
    # OverflowError of the driver): the request's fault, so 422, never a 500.
    log.info("number out of range on %s %s: %s", request.method, request.url.path, exc)
    return _answer(
        request,
        422,
        "invalid_input",
        msg("errors.number_out_of_range"),
    )


async def _client_gone(request: Request, exc: Exception) -> JSONResponse:
    # The sender hung up before its body arrived (a CRM timing out, a killed client):
    # nothing was read, so nothing was accepted; not an error of ours, no traceback.
    log.info(
        "client disconnected before sending the whole body: %s %s", request.method, request.url.path
    )
    return _answer(
        request,
        400,
        "client_disconnected",
        msg("errors.client_disconnected"),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _answer(
        request,
        500,
        "internal_error",
        msg("errors.internal"),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that produce the stable error shape."""
    app.add_exception_handler(PacelineError, _paceline_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _connection_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)
