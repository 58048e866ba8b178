"""Which database errors answer 503 (retry later) rather than 500."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from paceline.shared.web.errors import database_unavailable


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "unavailable"),
    [
        (_DriverError("the database system is starting up", "57P03"), True),
        (_DriverError("terminating connection due to administrator command", "57P01"), True),
        (_DriverError("connection failure", "08006"), True),
        (_DriverError("too many connections", "53300"), True),
        (ConnectionRefusedError("refused"), True),
        (_DriverError("duplicate key", "23505"), False),
        (_DriverError("syntax error", "42601"), False),
        (_DriverError("no code"), False),
    ],
)
def test_unavailable_is_told_apart_from_wrong(orig: Exception, unavailable: bool) -> None:
    assert database_unavailable(DBAPIError("SELECT 1", None, orig)) is unavailable


def test_operational_errors_are_unavailable() -> None:
    assert database_unavailable(OperationalError("SELECT 1", None, Exception("gone")))


async def test_a_bare_connection_error_answers_503_not_500() -> None:
    """asyncpg connecting during a PostgreSQL restart can raise ConnectionRefusedError
    unwrapped (seen in tests/faults): the stable 503 shape with Retry-After, never a 500."""
    import httpx
    from fastapi import FastAPI

    from paceline.shared.web.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://test",
    ) as client:
        resp = await client.get("/refused")
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "1"
    assert resp.json()["error"]["code"] == "unavailable"
