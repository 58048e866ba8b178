"""One way to page a list (issue 18): ``limit`` (with a documented maximum) and ``cursor``
in the query; the next page's cursor in ``next_cursor`` (in the JSON, where the answer is an
object), in ``X-Next-Cursor`` and as an RFC 8288 ``Link: <...>; rel="next"`` header. No
next page: no ``next_cursor`` (``null``) and neither header.

A route takes ``limit: Annotated[int, page_limit(500)] = 100`` and ``cursor: CursorQuery
= None``, fetches one row more than ``limit`` to know whether a next page exists, and sets
the headers with :func:`next_page_headers` (or :func:`set_next_page` on the injected
``Response``). The OpenAPI document names the two headers on the 200 answer of every
operation that takes ``cursor`` (shared/web/app.py); the contract test checks every list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg

CURSOR_DESCRIPTION = (
    "Opaque: the `next_cursor` (or `X-Next-Cursor` header) of the previous page; "
    "leave out for the first page."
)

CursorQuery = Annotated[
    str | None, Query(max_length=200, description=CURSOR_DESCRIPTION, examples=["42"])
]


MAX_ID = 2**63 - 1  # a BIGINT id


def page_limit(maximum: int) -> Any:
    """The ``limit`` query parameter: 1 to ``maximum`` items per page, the maximum named in
    the OpenAPI document (``maximum``) and in its description."""
    return Query(ge=1, le=maximum, description=f"Items per page, at most {maximum}.")


# The two headers of a page that has a next one, as the OpenAPI document names them.
NEXT_PAGE_HEADERS: dict[str, dict[str, Any]] = {
    "X-Next-Cursor": {
        "description": "The cursor of the next page (absent on the last page).",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'RFC 8288 link to the next page: `<url>; rel="next"` (absent on the last '
        "page).",
        "schema": {"type": "string"},
    },
}


def next_page_headers(
    request: Request, next_cursor: str | None, *, pin: Mapping[str, str] | None = None
) -> dict[str, str]:
    """``X-Next-Cursor`` and ``Link`` for a page followed by another (none for the last
    page). The link keeps the request's query with ``cursor`` replaced (and ``pin``'s
    parameters set, e.g. the ``as_of`` the first page was read at)."""
    if not next_cursor:
        return {}
    params = dict(request.query_params) | dict(pin or {}) | {"cursor": next_cursor}
    # A legacy cursor parameter (after_id, before_id) would fight the new one.
    for legacy in ("after_id", "before_id", "after_line"):
        params.pop(legacy, None)
    return {
        "Link": f'<{request.url.path}?{urlencode(params)}>; rel="next"',
        "X-Next-Cursor": next_cursor,
    }


def set_next_page(
    request: Request,
    response: Response,
    next_cursor: str | None,
    *,
    pin: Mapping[str, str] | None = None,
) -> None:
    """Set :func:`next_page_headers` on a route's injected ``Response``."""
    response.headers.update(next_page_headers(request, next_cursor, pin=pin))


def int_cursor(
    cursor: str | None, legacy: int | None = None, *, maximum: int = MAX_ID
) -> int | None:
    """An integer keyset cursor (the last id of the previous page) from ``cursor``, or from
    the route's older parameter (``after_id``…) when ``cursor`` is absent. ``None`` for the
    first page. A cursor that is not one (not an integer from 0 to ``maximum``, the
    column's range) is a 422 naming ``cursor``."""
    if cursor is None:
        return legacy
    if not cursor.isascii() or not cursor.isdigit() or int(cursor) > maximum:
        raise InvalidInput(
            msg("web.cursor.invalid"),
            fields=[FieldError("cursor", msg("web.cursor.use_next"))],
        )
    return int(cursor)
