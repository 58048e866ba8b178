"""Paceline's exception hierarchy, rendered by one handler into one stable JSON shape.

::

    PacelineError                 500  retriable=False
    ├── InvalidInput              422  payload validation; carries field errors
    ├── BadRequest                400  a well-formed request that makes no sense
    ├── Unauthorized              401  missing, unknown, expired or revoked credentials
    ├── Forbidden                 403  a valid key without the scope the route needs
    ├── NotFound                  404  absent, or another tenant's (never 403 for those)
    ├── Conflict                  409
    ├── PayloadTooLarge           413
    ├── UnsupportedMediaType      415
    ├── RateLimited               429  retriable, with Retry-After
    └── Unavailable               503  retriable, with Retry-After
        └── EventLogUnavailable        the event log could not durably take the events

The JSON shape (``error_body``)::

    {"error": {"code": "invalid_input", "status": 422, "message": "...",
               "fields": [{"field": "[2].amount", "reason": "..."}],
               "request_id": "..."}}

``message`` and ``reason`` are in the caller's language (``Accept-Language``, else the
tenant's locale, else zh-CN) from the message catalogs (:mod:`paceline.shared.i18n`); for
machines each also comes as a catalog code with its parameters: ``message_code`` and
``message_params`` beside ``message``, ``reason_code`` and ``reason_params`` in a field
error (the convention of every answer: a text field ``<f>`` has ``<f>_code`` and
``<f>_params``). Raise with a
:class:`~paceline.shared.i18n.Msg` (``NotFound(msg("errors.target.not_found", id=7))``).

The OData feed adds ``"target"`` (the query option an error is about), as OData's own
error JSON names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from paceline.shared.i18n import Msg, params_json, render


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field that failed validation and why."""

    field: str
    reason: str | Msg

    def as_dict(self, locale: str = "en") -> dict[str, Any]:
        """The field error as JSON-ready data, its reason in ``locale``."""
        if isinstance(self.reason, Msg):
            return {
                "field": self.field,
                "reason": render(self.reason, locale),
                "reason_code": self.reason.code,
                "reason_params": params_json(self.reason.params),
            }
        return {"field": self.field, "reason": self.reason}


class PacelineError(Exception):
    """Base of every error Paceline raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    retriable: ClassVar[bool] = False

    def __init__(
        self,
        message: str | Msg,
        *,
        fields: list[FieldError] | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(str(message))
        self.text: Msg | None = message if isinstance(message, Msg) else None
        self.message = str(message)  # English, for logs
        self.fields = fields or []
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        """HTTP headers the error response carries."""
        if self.retry_after_s is not None:
            return {"Retry-After": str(self.retry_after_s)}
        return {}


class InvalidInput(PacelineError):
    """The payload failed validation."""

    status = 422
    code = "invalid_input"


class BadRequest(PacelineError):
    """The request is well formed but cannot be served."""

    status = 400
    code = "bad_request"


class Unauthorized(PacelineError):
    """Credentials are missing or not valid."""

    status = 401
    code = "unauthorized"


class Forbidden(PacelineError):
    """The credentials lack the scope this route requires."""

    status = 403
    code = "forbidden"


class NotFound(PacelineError):
    """The resource does not exist for this tenant."""

    status = 404
    code = "not_found"


class Conflict(PacelineError):
    """The request conflicts with the current state."""

    status = 409
    code = "conflict"


class PayloadTooLarge(PacelineError):
    """The body or the batch exceeds a documented limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(PacelineError):
    """The Content-Type is not one this route accepts."""

    status = 415
    code = "unsupported_media_type"


class RateLimited(PacelineError):
    """Too many requests for this key; retry later."""

    status = 429
    code = "rate_limited"
    retriable = True


class Unavailable(PacelineError):
    """A dependency is down; nothing was accepted; retry later."""

    status = 503
    code = "unavailable"
    retriable = True


class EventLogUnavailable(Unavailable):
    """The event log could not durably take the events."""

    code = "event_log_unavailable"


def error_body(
    *,
    status: int,
    code: str,
    message: str | Msg,
    fields: list[FieldError] | None = None,
    request_id: str | None = None,
    target: str | None = None,
    locale: str = "en",
) -> dict[str, Any]:
    """The stable JSON error shape, its words in ``locale``; ``target`` (OData's name for
    what the error is about: the query option) only where a route names one."""
    error: dict[str, Any] = {
        "code": code,
        "status": status,
        "message": render(message, locale) if isinstance(message, Msg) else message,
        "fields": [f.as_dict(locale) for f in fields or []],
        "request_id": request_id,
    }
    if isinstance(message, Msg):
        error["message_code"] = message.code
        error["message_params"] = params_json(message.params)
    if target is not None:
        error["target"] = target
    return {"error": error}
