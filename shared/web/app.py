"""The FastAPI application factory every service uses."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from paceline import __version__
from paceline.shared.auth import implies
from paceline.shared.web.deps import ACTS_MARK, REACH_MARK, SCOPE_MARK
from paceline.shared.web.docs import docs_router
from paceline.shared.web.edge import EdgeMiddleware
from paceline.shared.web.errors import install_error_handlers
from paceline.shared.web.health import router as health_router
from paceline.shared.web.pagination import NEXT_PAGE_HEADERS
from paceline.shared.web.security import CORS_EXPOSE, CORS_HEADERS, CORS_METHODS

API_DESCRIPTION = """\
Paceline turns CRM activity into live sales-KPI facts, progress, pace, scorecards and
alerts. Authenticate with `Authorization: Bearer <API key>`. Errors share one shape:
`{"error": {"code", "status", "message", "fields": [{"field", "reason"}], "request_id"}}`;
`message` and `reason` are in the caller's language (`Accept-Language`, else the tenant's
locale), with the catalog code and parameters beside them (`message_code`,
`message_params`, `reason_code`, `reason_params`) for machines.
Each operation names the key scope it needs in `x-required-scope` (ingest, read, admin,
or platform for the operator); requests are rate-limited per key (429 with Retry-After).
"""

DEFAULT_CSP = (
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'"
)


def required_scopes(dependant: Dependant | None) -> list[str]:
    """The scopes a route's dependencies demand, without those another one implies.

    ``admin or platform`` (a ``require_any``) counts as one requirement.
    """
    found: set[str] = set()

    def walk(node: Dependant) -> None:
        for dep in node.dependencies:
            scope = getattr(dep.call, SCOPE_MARK, None)
            if isinstance(scope, str):
                found.add(scope)
            walk(dep)

    if dependant is not None:
        walk(dependant)
    return sorted(s for s in found if not any(o != s and implies(o, s) for o in found))


def acts(dependant: Dependant | None) -> bool:
    """Whether a route is an act (acknowledge, resolve): :func:`require_acting`."""

    def walk(node: Dependant) -> bool:
        return any(getattr(d.call, ACTS_MARK, False) or walk(d) for d in node.dependencies)

    return dependant is not None and walk(dependant)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route of the app with its effective path, methods and dependant (routers
    included into the app are flattened)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "status", "message", "fields", "request_id"],
            "properties": {
                "code": {"type": "string"},
                "status": {"type": "integer"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "reason"],
                        "properties": {
                            "field": {"type": "string"},
                            "reason": {"type": "string"},
                            "reason_code": {"type": "string"},
                            "reason_params": {"type": "object"},
                        },
                    },
                },
                "message_code": {
                    "type": "string",
                    "description": "The message's catalog code (stable; the words may change)",
                },
                "message_params": {"type": "object"},
                "request_id": {"type": ["string", "null"]},
                "target": {
                    "type": "string",
                    "description": "The query option the error is about (OData feed only)",
                },
            },
        }
    },
}
_AUTH_RESPONSES = {
    "401": "No API key, or one that is unknown, expired or revoked",
    "403": "The API key lacks the scope this operation needs",
    "429": "The API key made too many requests; retry after Retry-After seconds",
}


def operation_id(route: APIRoute) -> str:
    """The operation id of a route: its first tag, a dot, and its endpoint function's name
    in camelCase (``facts.getFacts``); stable as long as both keep their names. A test
    keeps them unique (tests/api/edge/test_openapi_contract.py)."""
    tag = str(route.tags[0]) if route.tags else "service"
    return f"{_camel(tag)}.{_camel(route.name)}"


def _camel(text: str) -> str:
    first, *rest = re.split(r"[\s_-]+", text)
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


_NOT_FOUND = "No such resource in the key's tenant (ids of other tenants are not found either)"
_NOT_FOUND_NAMED = (
    "Something the request names (a KPI, a team, a parent target...) does not exist in the "
    "key's tenant (ids of other tenants are not found either)"
)
_BAD_REQUEST = (
    "The request is malformed: a NUL character in the path or query, or a body that is not "
    "well-formed JSON (or NDJSON, CSV) in UTF-8"
)
_TOO_LARGE = "The body is larger than the limit (`PACELINE_MAX_BODY_BYTES`, 5 MiB by default)"
_UNSUPPORTED = "The body's content type is not one this operation takes, or JSON not in UTF-8"


def _declare_4xx(operation: dict[str, Any], *, path: str) -> None:
    """The 4xx answers every operation can give, each in the error shape (also where a
    route declared the status with only a description): 400 for a malformed request (the
    request guard answers it on every route), 404 for a path naming a resource or an input
    that names one (an unknown KPI in a query, a parent in a body), 413 and 415 for a
    body too large or not JSON/UTF-8, 422 for an operation taking input. The Schemathesis
    run checks that no operation answers a 4xx it does not declare
    (tests/api/edge/test_fuzz_openapi.py)."""
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
    wanted = {"400": _BAD_REQUEST}
    if "{" in path:
        wanted["404"] = _NOT_FOUND
    elif takes_input:
        wanted["404"] = _NOT_FOUND_NAMED
    if operation.get("requestBody"):
        wanted["413"] = _TOO_LARGE
        wanted["415"] = _UNSUPPORTED
    if takes_input:
        wanted["422"] = "The request's parameters or body are not valid (`fields` says which)"
    responses = operation.setdefault("responses", {})
    for status, text in wanted.items():
        answer = responses.setdefault(status, {"description": text})
        answer.setdefault("content", {}).setdefault(
            "application/json", {"schema": {"$ref": "#/components/schemas/Error"}}
        )


def _error_shape_for_422(schema: dict[str, Any]) -> None:
    """FastAPI documents 422 as its own ``{"detail": [...]}``; Paceline answers in its
    error shape (shared/web/errors.py), so the document says so."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            content = operation.get("responses", {}).get("422", {}).get("content", {})
            body = content.get("application/json")
            if body and body.get("schema") == {"$ref": "#/components/schemas/HTTPValidationError"}:
                body["schema"] = error_ref
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # unless something else uses them
        rest = {k: v for k, v in schema.items() if k != "components"}
        others = {k: v for k, v in components.items() if k != name}
        if f"#/components/schemas/{name}" not in repr((rest, others)):
            components.pop(name, None)


def _document_next_page(operation: dict[str, Any]) -> None:
    """An operation that takes ``cursor`` pages (shared/web/pagination.py): its 200 answer
    names the ``X-Next-Cursor`` and ``Link`` headers."""
    names = {p.get("name") for p in operation.get("parameters", []) if p.get("in") == "query"}
    if "cursor" not in names:
        return
    ok = operation.get("responses", {}).get("200")
    if ok is not None:
        headers = ok.setdefault("headers", {})
        for name, header in NEXT_PAGE_HEADERS.items():
            headers.setdefault(name, header)


def _hoist_components(schema: dict[str, Any], operation: dict[str, Any]) -> None:
    """Schemas a route names in ``openapi_extra={"x-components": {name: schema}}`` (a body
    FastAPI does not read, described by hand) become components, referenced by
    ``#/components/schemas/<name>``: one model, not a copy per use."""
    extra = operation.pop("x-components", None)
    if extra:
        schema.setdefault("components", {}).setdefault("schemas", {}).update(extra)


def _restore_nulls(schema: dict[str, Any]) -> None:
    """FastAPI writes the document without ``None`` values, which takes the ``null`` of a
    required, nullable field out of the models' examples too (``"parent_id": null``): put
    it back, so each example stays valid against its schema."""
    components = schema.get("components", {}).get("schemas", {})

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            found: dict[str, Any] = components.get(ref.rsplit("/", 1)[1], {})
            return found
        return node

    def branch_for(value: Any, node: dict[str, Any]) -> dict[str, Any] | None:
        node = resolve(node)
        options = node.get("anyOf") or node.get("oneOf")
        if not options:
            return node
        for option in map(resolve, options):
            known = set(option.get("properties", {}))
            fits = not known or set(value) <= known if isinstance(value, dict) else False
            if fits and option.get("type") == "object":
                return option
            if isinstance(value, list) and option.get("type") == "array":
                return option
        return None

    def nullable(node: dict[str, Any]) -> bool:
        node = resolve(node)
        return node.get("type") == "null" or any(
            resolve(o).get("type") == "null" for o in node.get("anyOf", [])
        )

    def fill(value: Any, node: dict[str, Any]) -> None:
        chosen = branch_for(value, node)
        if chosen is None:
            return
        if isinstance(value, dict):
            properties = chosen.get("properties", {})
            for name in chosen.get("required", []):
                if name not in value and name in properties and nullable(properties[name]):
                    value[name] = None
            extra = chosen.get("additionalProperties")
            for name, item in value.items():
                if name in properties:
                    fill(item, properties[name])
                elif isinstance(extra, dict):
                    fill(item, extra)
        elif isinstance(value, list) and isinstance(chosen.get("items"), dict):
            for item in value:
                fill(item, chosen["items"])

    for body in components.values():
        for example in body.get("examples", []):
            fill(example, body)


def _distinct_titles(schema: dict[str, Any]) -> None:
    """Give every component schema a title of its own. Pydantic titles a model by its class
    name, so a model documented twice (``Mapping-Input`` and ``Mapping-Output``, or two
    classes of one name in different modules) gives two schemas of one title, and a client
    generator that names its classes by title (openapi-python-client) drops both. The
    component's name is the title then: ``MappingOutput``, ``PacelineApiPlanningSchemasPlanIn``.
    """
    components = schema.get("components", {}).get("schemas", {})
    seen: dict[str, int] = {}
    for body in components.values():
        title = body.get("title")
        if isinstance(title, str):
            seen[title] = seen.get(title, 0) + 1
    for name, body in components.items():
        if seen.get(body.get("title", ""), 0) > 1 or "-" in name:
            body["title"] = "".join(
                part[:1].upper() + part[1:] for part in re.split(r"[-_]+", name) if part
            )


def _document_scopes(app: FastAPI) -> None:
    """Name each operation's scope in the OpenAPI document (``x-required-scope``), and its
    401, 403 and 429 answers in the error shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        _error_shape_for_422(schema)
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                if isinstance(operation, dict):
                    _declare_4xx(operation, path=path)
                    _document_next_page(operation)
                    _hoist_components(schema, operation)
        for route in api_routes(app):
            if not route.include_in_schema:
                continue
            scopes = required_scopes(route.dependant)
            if not scopes:
                continue
            for method in route.methods or ():
                operation = schema.get("paths", {}).get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                operation["x-required-scope"] = " and ".join(scopes)
                # Whether a manager's or a rep's access (a bounded reach) may use it, and
                # why (docs/SECURITY.md, "Users and roles"); absent: whole-tenant roles only.
                reach = getattr(route.endpoint, REACH_MARK, None)
                if reach is not None:
                    operation["x-reach"] = reach
                if acts(route.dependant):
                    # The declared scope is what a service key needs; a person acts by role.
                    operation["x-acts"] = (
                        "a person whose role acts (admin, manager, rep) through their key or "
                        "sign-in, or a service key with the admin scope"
                    )
                responses = operation.setdefault("responses", {})
                for status, text in _AUTH_RESPONSES.items():
                    responses.setdefault(
                        status,
                        {
                            "description": text,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Error"}
                                }
                            },
                        },
                    )
                note = f"Requires an API key with the `{' and '.join(scopes)}` scope."
                description = operation.get("description", "")
                operation["description"] = f"{description}\n\n{note}".strip()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        _distinct_titles(schema)
        _restore_nulls(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


def create_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    lifespan: Any,
    max_body_bytes: int,
    cors_origins: Sequence[str] = (),
    hsts_max_age_s: int = 0,
    content_security_policy: str = DEFAULT_CSP,
    access_log: bool = True,
) -> FastAPI:
    """A FastAPI app with Paceline's error shape, request ids, limits, security headers
    (and CORS for the configured origins only), health routes and offline API docs."""
    app = FastAPI(
        title=title,
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their files from a CDN: ours are served here
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    # One layer: request id, access log and metrics, security headers, request guard,
    # CORS (Starlette's, only for configured origins) and body limit, in that order.
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=max_body_bytes,
        csp=content_security_policy,
        hsts_max_age_s=hsts_max_age_s,
        log_requests=access_log,
        cors=(
            {
                "allow_origins": list(cors_origins),
                "allow_methods": list(CORS_METHODS),
                "allow_headers": list(CORS_HEADERS),
                "expose_headers": list(CORS_EXPOSE),
                "allow_credentials": False,  # keys travel in headers, never in cookies
                "max_age": 600,
            }
            if cors_origins
            else None
        ),
    )
    app.include_router(health_router)
    app.include_router(docs_router(title=title))
    for router in routers:
        app.include_router(router)
    _document_scopes(app)
    return app
