"""The OpenAPI document as a contract (issue 18): every operation has an explicit, unique,
stable id (``<tag>.<endpointName>``) and declares, in the error shape, the 4xx answers it
can give: 401/403/429 when it needs a key, 404 when its path names a resource, 422 when
it takes parameters or a body."""

from __future__ import annotations

import re
from typing import Any

import pytest

from paceline.cli.stack import build_app
from paceline.shared.settings import Settings

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ID_SHAPE = re.compile(r"^[a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9]*$")


@pytest.fixture(scope="module")
def operations() -> list[tuple[str, str, dict[str, Any]]]:
    doc = build_app(Settings(environment="test")).openapi()
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict)
    ]


def test_every_operation_has_a_unique_explicit_id(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    ids = [op.get("operationId", "") for _, _, op in operations]
    assert len(ids) > 100
    bad = [(m, p, i) for (m, p, _), i in zip(operations, ids, strict=True) if not ID_SHAPE.match(i)]
    assert not bad, bad
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    # No FastAPI-generated ids (function_path_method) left.
    assert not [i for i in ids if re.search(r"_(get|post|put|patch|delete)$", i)]
    assert "progress.getProgress" in ids
    assert "facts.getFacts" in ids


def test_every_operation_declares_its_4xx_answers(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    missing = []
    for method, path, op in operations:
        expected = set()
        if "x-required-scope" in op:
            expected |= {"401", "403", "429"}
        if "{" in path:
            expected.add("404")
        if op.get("parameters") or op.get("requestBody"):
            expected.add("422")
        responses = op.get("responses", {})
        for status in sorted(expected):
            declared = responses.get(status, {}).get("content", {}).get("application/json", {})
            if declared.get("schema") != ERROR_REF:
                missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing
