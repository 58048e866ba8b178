"""The read-only OData v4 (JSON) feed at ``/odata/v4/``, for Power BI, Excel and other
OData clients (docs/BI.md, "OData feed").

``GET /odata/v4/`` (service document), ``GET /odata/v4/$metadata`` (CSDL XML) and one
``GET /odata/v4/<EntitySet>`` per set, answering ``{"@odata.context", "value",
"@odata.nextLink"?, "@odata.count"?}`` with ``OData-Version: 4.0``. Keys with the read
scope, as a header, as Basic credentials or as ``?api_key=`` (:func:`paceline.shared.web.
deps.require_feed`). A query option the feed cannot serve answers 400 in OData's error
shape, which is also Paceline's: ``{"error": {"code", "message", "target", ...}}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from paceline.api.odata import service
from paceline.api.odata.model import ENTITY_SETS, FACTS, EntitySet, metadata_xml
from paceline.api.odata.query import ODataError, encode_token, parse_query
from paceline.shared.auth import Principal
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.models import Tenant
from paceline.shared.errors import NotFound, error_body
from paceline.shared.i18n import locale_of, msg
from paceline.shared.web.deps import FEED_KEY_PARAM, ReadSessionDep, StateDep, require_feed
from paceline.shared.web.errors import request_id_of, request_locale

PREFIX: Final = "/odata/v4"
VERSION_HEADERS: Final = {"OData-Version": "4.0"}
JSON_TYPE: Final = "application/json;odata.metadata=minimal;odata.streaming=true"

router = APIRouter(prefix=PREFIX, tags=["odata"])

FeedPrincipal = Annotated[Principal, Depends(require_feed("read"))]


async def _tenant(request: Request, principal: FeedPrincipal, session: ReadSessionDep) -> Tenant:
    tenant = await tenant_repo.get_tenant(session, tenant_id=principal.tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    # Every answer of the set, errors too, in the caller's language (Accept-Language),
    # else the tenant's.
    request.state.locale = locale_of(request.headers.get("accept-language"), tenant.locale)
    return tenant


FeedTenantDep = Annotated[Tenant, Depends(_tenant)]


def service_root(request: Request) -> str:
    """The absolute URL of the service root (ends with a slash)."""
    return f"{str(request.base_url).rstrip('/')}{PREFIX}/"


def _ieee754(request: Request) -> bool:
    """Whether the client asked for Int64 and Decimal values as strings."""
    accept = request.headers.get("accept", "") + ";" + request.query_params.get("$format", "")
    return "ieee754compatible=true" in accept.replace(" ", "").lower()


def _json_value(value: Any, edm: str, ieee754: bool) -> bytes:
    if value is None:
        return b"null"
    if edm == "Edm.Decimal":
        text = format(Decimal(value), "f")
        return f'"{text}"'.encode() if ieee754 else text.encode()
    if edm == "Edm.Int64" and ieee754:
        return f'"{int(value)}"'.encode()
    if isinstance(value, datetime):
        return orjson.dumps(value.astimezone(UTC).isoformat().replace("+00:00", "Z"))
    if isinstance(value, date):
        return orjson.dumps(value.isoformat())
    return orjson.dumps(value)


def render_rows(
    entity: EntitySet, rows: list[dict[str, Any]], names: tuple[str, ...], *, ieee754: bool
) -> bytes:
    """The rows as JSON objects with exact decimals (a JSON number has every digit)."""
    types = {p.name: p.edm for p in entity.props}
    parts = []
    for row in rows:
        fields = b",".join(
            orjson.dumps(n) + b":" + _json_value(row.get(n), types[n], ieee754) for n in names
        )
        parts.append(b"{" + fields + b"}")
    return b"[" + b",".join(parts) + b"]"


def _odata_error(request: Request, exc: ODataError) -> JSONResponse:
    body = error_body(
        status=exc.status,
        code=exc.code,
        message=exc.text if exc.text is not None else exc.message,
        fields=exc.fields,
        request_id=request_id_of(request),
        target=exc.target,
        locale=request_locale(request),
    )
    return JSONResponse(body, status_code=exc.status, headers=VERSION_HEADERS)


@router.get(
    "/",
    summary="OData service document: the entity sets",
    response_class=Response,
    responses={
        200: {
            "description": "The entity sets, each with its relative URL",
            "content": {
                "application/json": {
                    "example": {
                        "@odata.context": "https://kpi.example.com/odata/v4/$metadata",
                        "value": [
                            {"name": "Facts", "kind": "EntitySet", "url": "Facts"},
                            {"name": "Progress", "kind": "EntitySet", "url": "Progress"},
                        ],
                    }
                }
            },
        }
    },
)
async def get_service_document(request: Request, principal: FeedPrincipal) -> Response:
    """The entity sets of the feed, each with its relative URL."""
    body = {
        "@odata.context": f"{service_root(request)}$metadata",
        "value": [{"name": e.name, "kind": "EntitySet", "url": e.name} for e in ENTITY_SETS],
    }
    return Response(orjson.dumps(body), media_type=JSON_TYPE, headers=VERSION_HEADERS)


@router.get(
    "/$metadata",
    summary="OData metadata (CSDL XML, EDMX 4.0)",
    response_class=Response,
    responses={200: {"description": "CSDL XML (EDMX 4.0)", "content": {"application/xml": {}}}},
)
async def get_metadata(principal: FeedPrincipal) -> Response:
    """The entity model: types, keys, typed properties and the container."""
    return Response(metadata_xml(), media_type="application/xml", headers=VERSION_HEADERS)


def _page_size(request: Request, entity: EntitySet) -> tuple[int, str | None]:
    """The server page size, lowered by ``Prefer: odata.maxpagesize=N``."""
    for part in request.headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "odata.maxpagesize" and value.strip().isdigit():
            wanted = int(value.strip())
            if wanted > 0:
                size = min(wanted, entity.page_size)
                return size, f"odata.maxpagesize={size}"
    return entity.page_size, None


def _changed_since(request: Request) -> datetime | None:
    text = request.query_params.get("changed_since")
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ODataError("changed_since", msg("odata.changed_since")) from None
    if value.tzinfo is None:
        raise ODataError("changed_since", msg("odata.changed_since"))
    return value


def _set_endpoint(entity: EntitySet) -> Callable[..., Awaitable[Response]]:
    # The options are declared for the OpenAPI document only: the handler reads the query
    # string itself (parse_query), so an unknown or repeated $option is a 400 naming it.
    async def endpoint(
        request: Request,
        state: StateDep,
        session: ReadSessionDep,
        tenant: FeedTenantDep,
        filter_: Annotated[
            str | None, Query(alias="$filter", description="eq ne gt ge lt le, joined by and")
        ] = None,
        select: Annotated[str | None, Query(alias="$select")] = None,
        orderby: Annotated[str | None, Query(alias="$orderby")] = None,
        top: Annotated[str | None, Query(alias="$top")] = None,
        skip: Annotated[str | None, Query(alias="$skip")] = None,
        count: Annotated[str | None, Query(alias="$count")] = None,
        skiptoken: Annotated[
            str | None, Query(alias="$skiptoken", description="from @odata.nextLink")
        ] = None,
    ) -> Response:
        try:
            custom = ("changed_since",) if entity is FACTS else ()
            q = parse_query(
                request.query_params.multi_items(),
                entity,
                max_skip=service.MAX_FACT_SKIP if entity is FACTS else service.MAX_SKIP,
                custom=custom,
            )
            size, applied = _page_size(request, entity)
            page = await service.read_set(
                session,
                tenant=tenant,
                entity=entity,
                q=q,
                now=state.clock.now(),
                page_size=size,
                changed_since=_changed_since(request) if entity is FACTS else None,
            )
        except ODataError as exc:
            return _odata_error(request, exc)
        root = service_root(request)
        names = q.select if q.select is not None else entity.names
        context = f"{root}$metadata#{entity.name}"
        if q.select is not None:
            context += f"({','.join(names)})"
        head = b'{"@odata.context":' + orjson.dumps(context)
        if page.count is not None:
            head += b',"@odata.count":' + str(page.count).encode()
        head += b',"value":' + render_rows(entity, page.rows, names, ieee754=_ieee754(request))
        if page.next_token is not None:
            params = {k: v for k, v in q.passthrough.items() if k != FEED_KEY_PARAM}
            params["$skiptoken"] = encode_token(page.next_token)
            link = f"{root}{entity.name}?{urlencode(params, safe='$,():')}"
            head += b',"@odata.nextLink":' + orjson.dumps(link)
        headers = dict(VERSION_HEADERS)
        if applied:
            headers["Preference-Applied"] = applied
        media = JSON_TYPE + (";IEEE754Compatible=true" if _ieee754(request) else "")
        return Response(head + b"}", media_type=media, headers=headers)

    endpoint.__name__ = f"get_{entity.name}"
    endpoint.__doc__ = f"The {entity.name} entity set (OData v4 JSON, paged by @odata.nextLink)."
    return endpoint


for _entity in ENTITY_SETS:
    router.add_api_route(
        f"/{_entity.name}",
        _set_endpoint(_entity),
        methods=["GET"],
        name=f"get_{_entity.name.lower()}",
        summary=f"OData entity set {_entity.name}",
        response_class=Response,
        responses={
            400: {
                "description": "A query option the feed cannot serve (`target` names it)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
    )
