"""The OpenAPI document as a contract (issue 18): every operation has an explicit, unique,
stable id (``<tag>.<endpointName>``) and declares, in the error shape, the 4xx answers it
can give: 401/403/429 when it needs a key, 404 when its path names a resource, 422 when
it takes parameters or a body."""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter, ValidationError

from paceline.cli.stack import build_app
from paceline.shared.settings import Settings
from paceline.shared.web.app import api_routes

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


# -- tags, examples, pagination (issue 18, item 4) -----------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_app(Settings(environment="test")).openapi()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        resolved: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        return resolved
    return schema


def _schema_examples(doc: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """The examples a schema carries: its own (through a $ref), one of a nullable body's
    (``anyOf: [model, null]``), or a list's items' (Swagger UI shows an array of it)."""
    schema = _resolve(doc, schema)
    if schema.get("examples"):
        return list(schema["examples"])
    for branch in schema.get("anyOf", []):
        found = _schema_examples(doc, branch)
        if found:
            return found
    if schema.get("type") == "array" and "items" in schema:
        return [[item] for item in _schema_examples(doc, schema["items"])]
    return []


def media_examples(doc: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """Every example of a JSON body or answer: on the media type (``example``,
    ``examples``), else on its schema."""
    found: list[Any] = []
    if "example" in media:
        found.append(media["example"])
    found += [named["value"] for named in media.get("examples", {}).values() if "value" in named]
    return found or _schema_examples(doc, media.get("schema", {}))


def json_bodies(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> list[tuple[str, str, dict[str, Any]]]:
    """(operation id, where, media) of every JSON request body and 2xx JSON answer."""
    out = []
    for _method, _path, op in operations:
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None:
            out.append((op["operationId"], "request", body))
        for status, answer in op.get("responses", {}).items():
            media = answer.get("content", {}).get("application/json")
            if status.startswith("2") and media is not None:
                out.append((op["operationId"], status, media))
    return out


def test_every_operation_has_tags_and_an_id(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    bad = [f"{m.upper()} {p}" for m, p, op in operations if not op.get("tags")]
    bad += [f"{m.upper()} {p}" for m, p, op in operations if not op.get("operationId")]
    assert not bad, bad


def test_every_json_body_and_answer_has_an_example(
    document: dict[str, Any], operations: list[tuple[str, str, dict[str, Any]]]
) -> None:
    missing = [
        f"{op_id} {where}"
        for op_id, where, media in json_bodies(operations)
        if not media_examples(document, media)
    ]
    assert not missing, missing


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) for ``schema`` whose
    ``#/components/...`` references resolve in the document."""
    root = {**schema, "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_every_example_is_valid_against_its_schema(
    document: dict[str, Any], operations: list[tuple[str, str, dict[str, Any]]]
) -> None:
    checked = 0
    invalid = []
    for op_id, where, media in json_bodies(operations):
        validator = _validator(document, media.get("schema", {}))
        for example in media_examples(document, media):
            checked += 1
            for error in validator.iter_errors(example):
                path = "/".join(str(p) for p in error.absolute_path)
                invalid.append(f"{op_id} {where} at {path or '.'}: {error.message}")
    # Examples of the component schemas themselves (nested models too).
    for name, schema in document["components"]["schemas"].items():
        validator = _validator(document, schema)
        for example in schema.get("examples", []):
            checked += 1
            for error in validator.iter_errors(example):
                path = "/".join(str(p) for p in error.absolute_path)
                invalid.append(f"components/{name} at {path or '.'}: {error.message}")
    assert not invalid, invalid
    assert checked > 50


def test_the_validation_of_examples_can_fail(document: dict[str, Any]) -> None:
    """The checks above see a missing example and a wrong one (a required field left out,
    a wrong enum)."""
    assert media_examples(document, {"schema": {"type": "object"}}) == []
    validator = _validator(document, {"$ref": "#/components/schemas/TargetIn"})
    good = document["components"]["schemas"]["TargetIn"]["examples"][0]
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({k: v for k, v in good.items() if k != "kpi"}))
    kpi_in = document["components"]["schemas"]["KpiIn"]["examples"][0]
    assert list(
        _validator(document, {"$ref": "#/components/schemas/KpiIn"}).iter_errors(
            kpi_in | {"unit": "furlongs"}
        )
    )


# Lists that are not paged, each with its reason. A new list pages (or comes here with a
# reason a reviewer accepts).
UNPAGED_LISTS = {
    "/v1/connector-adapters": "the built-in adapters: a handful",
    "/v1/connectors": "one per CRM source of the tenant",
    "/v1/teams": "the org chart (GET /v1/org is the same chart in one answer)",
    "/v1/reps": "the org chart (GET /v1/org is the same chart in one answer)",
    "/v1/kpis": "the KPI catalogue (built-in and custom)",
    "/v1/fx-rates": "bounded by the from/to filters",
    "/v1/role-templates": "the role templates: a handful",
    "/v1/subscriptions": "the tenant's bot and webhook subscribers",
    "/v1/dashboard/adjustments": "a dashboard panel: the first `limit` items with `count`; "
    "the whole list pages at /v1/adjustments",
}


def test_every_list_pages_the_same_way(
    document: dict[str, Any], operations: list[tuple[str, str, dict[str, Any]]]
) -> None:
    """A list (a GET answering a JSON array, or a page with `next_cursor`, or taking
    `limit`) takes `cursor` and `limit` (its maximum documented) and names `X-Next-Cursor`
    and `Link` on its 200 answer."""
    lists = []
    wrong = []
    for method, path, op in operations:
        if method != "get":
            continue
        params = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
        ok = op.get("responses", {}).get("200", {})
        schema = _resolve(
            document, ok.get("content", {}).get("application/json", {}).get("schema", {})
        )
        is_list = (
            schema.get("type") == "array"
            or "next_cursor" in schema.get("properties", {})
            or "limit" in params
        )
        if not is_list:
            continue
        lists.append(path)
        if path in UNPAGED_LISTS:
            continue
        limit = params.get("limit", {}).get("schema", {})
        if not isinstance(limit.get("maximum"), int) or str(limit["maximum"]) not in params.get(
            "limit", {}
        ).get("description", ""):
            wrong.append(f"{path}: limit without a documented maximum")
        if "cursor" not in params:
            wrong.append(f"{path}: no cursor parameter")
        headers = ok.get("headers", {})
        if not {"X-Next-Cursor", "Link"} <= set(headers):
            wrong.append(f"{path}: X-Next-Cursor and Link not named on 200")
        if schema.get("type") == "object" and "next_cursor" not in schema.get("properties", {}):
            wrong.append(f"{path}: the page has no next_cursor")
    assert not wrong, wrong
    assert "/v1/targets" in lists
    assert not set(UNPAGED_LISTS) - set(lists), set(UNPAGED_LISTS) - set(lists)


def test_every_request_example_is_accepted_by_its_model(document: dict[str, Any]) -> None:
    """Beyond the schema: each request example passes the route's own body model (its
    validators too: a mapping without `rep_id`, a plan whose tiers do not rise)."""
    app = build_app(Settings(environment="test"))
    checked = []
    refused = []
    for context in api_routes(app):
        route = context.original_route
        if route.body_field is None or not route.include_in_schema:
            continue
        for method in route.methods or ():
            op = document["paths"][context.path_format][method.lower()]
            media = op["requestBody"]["content"]["application/json"]
            adapter: TypeAdapter[Any] = TypeAdapter(route.body_field.field_info.annotation)
            for example in media_examples(document, media):
                checked.append(op["operationId"])
                try:
                    adapter.validate_python(example)
                except ValidationError as exc:
                    refused.append(f"{op['operationId']}: {exc}")
    assert not refused, refused
    assert {"targets.createTarget", "kpis.createKpi", "org.putOrg"} <= set(checked)
