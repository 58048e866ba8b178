"""Schemathesis against the app's own OpenAPI document: no 5xx, every 4xx in the stable
error shape, and every 4xx status one the operation declares.

Every operation of the document (those other domains add included) gets a bounded run
with a fixed seed (``SEED``, so CI and a developer see the same examples, and a failure
reproduces): ``EXAMPLES`` examples that follow the schema and examples that break it
(wrong types, missing fields, out-of-range values), through the ASGI app in-process
(Schemathesis starts the app's lifespan itself). A 4xx the operation's ``responses`` do
not list is a failure: a client generated from the document would not expect it. Each
request carries a key with the scope the operation declares, so the examples reach the
code behind authentication. Failures are collected over all operations and reported
together, each with a curl command to reproduce it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans

from paceline.cli.stack import build_app
from paceline.shared.auth import PLATFORM_TENANT, generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.session import Database
from paceline.shared.settings import Settings
from tests.support import distributed_settings, embedded_settings

# The budget: examples per operation (x2 run modes, ~100 operations); PACELINE_FUZZ_SCALE=10
# for a long run. The suite's default keeps the whole run inside CI's time budget.
_SCALE = int(os.environ.get("PACELINE_FUZZ_SCALE", "1"))
# The seed: Hypothesis draws every example from it (``hypothesis.seed``), so the run is the
# same on every machine; PACELINE_FUZZ_SEED=<n> explores other examples on purpose.
SEED = int(os.environ.get("PACELINE_FUZZ_SEED", "20261117"))
EXAMPLES = {GenerationMode.POSITIVE: 10 * _SCALE, GenerationMode.NEGATIVE: 6 * _SCALE}
ADMIN_KEY = "pl_fuzzadmin_" + "a" * 32
ERROR_FIELDS = {"code", "status", "message", "fields", "request_id"}
# The app's clock: its answers (default as_of, the current period, key expiry) then do not
# depend on the day the suite runs.
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


async def _platform_key(url: str) -> str:
    db = Database(url)
    try:
        key = generate_key()
        now = NOW
        async with db.transaction() as session:
            await tenant_repo.ensure_tenant(
                session, tenant_id=PLATFORM_TENANT, name="Platform", now=now
            )
            await tenant_repo.add_key(
                session,
                tenant_id=PLATFORM_TENANT,
                key=key,
                name="fuzz",
                scopes=["platform"],
                now=now,
            )
        return key.plaintext
    finally:
        await db.dispose()


def _app(settings: Settings) -> tuple[FastAPI, dict[str, str]]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    platform = asyncio.run(_platform_key(settings.effective_database_url))
    return build_app(settings, clock=FixedClock(NOW)), {"admin": ADMIN_KEY, "platform": platform}


@pytest.fixture(
    params=["embedded", pytest.param("distributed", marks=[pytest.mark.pg, pytest.mark.kafka])]
)
def fuzz_target(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    """The app (lifespan not started: Schemathesis starts it) and keys for it."""
    extra: dict[str, Any] = {"bootstrap_api_key": ADMIN_KEY, "rate_limit_per_s": 0}
    cleanup = None
    if request.param == "embedded":
        settings = embedded_settings(tmp_path / "data", **extra)
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_database()
        cleanup = lambda: server.drop_database(url)  # noqa: E731
        settings = distributed_settings(
            url, request.getfixturevalue("kafka_bootstrap"), data_dir=tmp_path / "data", **extra
        )
    try:
        yield _app(settings)
    finally:
        shutdown_lifespans()
        if cleanup is not None:
            cleanup()


def _shape_problem(status: int, headers: Any, body: Any) -> str | None:
    """Why a 4xx answer is not in the stable error shape (None if it is)."""
    content_type = headers.get("content-type") or headers.get("Content-Type") or ""
    if isinstance(content_type, list):  # Schemathesis keeps every value of a header
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}"
    if not isinstance(body, dict) or set(body) != {"error"}:
        return "the body is not {'error': {...}}"
    error = body["error"]
    optional = {"target", "message_code", "message_params"}
    if not isinstance(error, dict) or set(error) - optional != ERROR_FIELDS:
        return f"the error object has fields {sorted(error) if isinstance(error, dict) else error}"
    if not isinstance(error.get("target", ""), str):  # OData's name of the query option
        return "target is not a string"
    if error["status"] != status or not isinstance(error["code"], str) or not error["message"]:
        return "status, code or message do not match"
    if not all(
        isinstance(f, dict) and set(f) - {"reason_code", "reason_params"} == {"field", "reason"}
        for f in error["fields"]
    ):
        return "fields are not [{'field', 'reason'}]"
    return None


def _fuzz(
    operation: schemathesis.APIOperation,
    *,
    headers: dict[str, str],
    mode: GenerationMode,
    count: int,
    failures: list[str],
) -> int:
    """Run ``count`` examples of one operation; failures are appended; examples run."""
    label = operation.label
    ran = 0

    declared = {str(status) for status in operation.definition.raw.get("responses", {})}

    @seed(SEED)
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        nonlocal ran
        ran += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the app raised: it would have answered 500
            failures.append(f"{label}: raised {exc!r}\n  {case.as_curl_command()}")
            return
        status = response.status_code
        if status >= 500:
            failures.append(f"{label}: {status} {response.text[:200]}\n  {case.as_curl_command()}")
        elif status >= 400:
            if str(status) not in declared and "4XX" not in declared:
                failures.append(
                    f"{label}: {status} is not declared (declared: {sorted(declared)}): "
                    f"{response.text[:200]}\n  {case.as_curl_command()}"
                )
            try:
                body = response.json()
            except ValueError:
                body = None
            problem = _shape_problem(status, response.headers, body)
            if problem is not None:
                failures.append(
                    f"{label}: {status} not in the error shape ({problem}): "
                    f"{response.text[:200]}\n  {case.as_curl_command()}"
                )

    with contextlib.suppress(Unsatisfiable):  # nothing to break without parameters or body
        run()
    return ran


# Schemathesis's negative strategies draw from the ``random`` module in places, which
# Hypothesis reports with a deprecation warning (theirs, not ours).
@pytest.mark.filterwarnings("ignore:Do not use the `random` module:FutureWarning")
def test_no_operation_answers_5xx_or_an_unshaped_4xx(
    fuzz_target: tuple[FastAPI, dict[str, str]],
) -> None:
    app, keys = fuzz_target
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        scope = operation.definition.raw.get("x-required-scope") or ""
        key = keys["platform"] if scope == "platform" else keys["admin"]
        for mode, count in EXAMPLES.items():
            tried[operation.label] = tried.get(operation.label, 0) + _fuzz(
                operation,
                headers={"Authorization": f"Bearer {key}"},
                mode=mode,
                count=count,
                failures=failures,
            )
    assert len(tried) >= 50, sorted(tried)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:60])
