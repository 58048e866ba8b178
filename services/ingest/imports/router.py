"""``POST /v1/imports``: a history file (CSV or NDJSON) into the event log, with a report."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from paceline.ingest.imports.charsets import decode
from paceline.ingest.imports.schemas import NAME_PATTERN, ImportMapping, ImportRequest
from paceline.ingest.imports.service import run_import
from paceline.shared.errors import FieldError, InvalidInput, UnsupportedMediaType
from paceline.shared.events import EventType
from paceline.shared.i18n import Msg, msg
from paceline.shared.import_report import ImportOut
from paceline.shared.web.deps import AuditDep, IngestPrincipal, StateDep
from paceline.shared.web.errors import reason_of, request_locale

router = APIRouter(prefix="/v1", tags=["imports"])

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"}
)


def _inline_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its ``$defs`` written in where they are referenced.

    Inside an operation's request body, ``{"$ref": "#/$defs/X"}`` would point at the root of
    the OpenAPI document, where there is no ``$defs`` (ReDoc and code generators fail on it).
    """
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return resolve({**defs[ref.removeprefix("#/$defs/")], **rest})
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_MAPPING_SCHEMA: dict[str, Any] = _inline_defs(ImportRequest.model_json_schema())
_JSON_EXAMPLE: dict[str, Any] = {
    "name": "crm-2025",
    "format": "csv",
    "mapping": {
        "type": "deal",
        "columns": {"Deal ID": "event_id", "Owner": "rep_id", "Closed": "occurred_at"},
        "constants": {"stage": "won", "currency": "CNY"},
        "date_formats": {"occurred_at": "%Y/%m/%d"},
    },
    "content": "Deal ID,Owner,Closed,amount\nD-1001,r-001,2025/03/14,120000.00\n",
}


def _pydantic_fields(exc: ValidationError) -> list[FieldError]:
    return [
        FieldError(".".join(str(p) for p in e["loc"]) or "(body)", reason_of(e))
        for e in exc.errors(include_url=False)
    ]


def _charset_param(request: Request) -> str | None:
    """The ``charset`` parameter of the request's Content-Type, if any."""
    for param in (request.headers.get("content-type") or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip()
    return None


@router.post(
    "/imports",
    status_code=201,
    response_model=ImportOut,
    summary="Import history (CSV or NDJSON)",
    description=(
        "A file of past activity becomes canonical events on the event log (source "
        "`import:<name>`), like `POST /v1/events`, in batches. Send the file itself "
        "(`text/csv` with a header row, or `application/x-ndjson`) with `name` (and `type` "
        "when every row has the same type) in the query; or JSON `{name, format, mapping, "
        "content}` (or `content_base64` + `charset`) to give a column mapping. Files in "
        "GBK/GB18030 (Chinese Excel): `charset=gbk`, or detected when not UTF-8. Answers "
        "201 with the run: counts, warnings and each rejected row (line, field, reason). "
        "Importing the same rows again appends nothing new. Files above the request size "
        "limit (`PACELINE_MAX_BODY_BYTES`) go through `paceline import`."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "application/json": {"schema": _MAPPING_SCHEMA, "example": _JSON_EXAMPLE},
            },
        }
    },
    responses={
        413: {"description": "Body too large: use `paceline import`"},
        415: {"description": "Unsupported Content-Type"},
        422: {"description": "The mapping, the name or the header cannot be used"},
        503: {"description": "The event log is unavailable; the run is kept as failed"},
    },
)
async def post_import(
    request: Request,
    state: StateDep,
    principal: IngestPrincipal,
    auditor: AuditDep,
    name: Annotated[
        str | None,
        Query(pattern=NAME_PATTERN, description="The import's name (with a file body)."),
    ] = None,
    type: Annotated[  # the canonical field's name
        EventType | None, Query(description="The event type of every row (with a file body).")
    ] = None,
    file_name: Annotated[str | None, Query(max_length=400)] = None,
    charset: Annotated[
        str | None,
        Query(
            max_length=40,
            description=(
                "The file's charset (with a file body): `utf-8` (default), `gbk`/`gb18030` "
                "(Chinese Excel's CSV), `big5`; also read from the Content-Type's `charset`. "
                "Undeclared and not UTF-8: read as GB18030, with a warning."
            ),
        ),
    ] = None,
) -> JSONResponse:
    """Import a history file; the run's report."""
    assert state.eventlog is not None
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    body = await request.body()
    warnings: list[Msg] = []
    locale = request_locale(request)
    if media == "application/json":
        try:
            req = ImportRequest.model_validate_json(body)
        except ValidationError as exc:
            fields = _pydantic_fields(exc)
            raise InvalidInput(msg("imports.request.invalid"), fields=fields) from None
        fmt, mapping = req.format, req.mapping
        name, file_name = req.name, req.file_name or file_name
        if req.content_base64 is not None:
            try:
                raw = base64.b64decode(req.content_base64, validate=True)
            except (ValueError, binascii.Error):
                raise InvalidInput(
                    msg("imports.request.not_base64"),
                    fields=[FieldError("content_base64", msg("imports.request.bad_base64"))],
                ) from None
            content, detected = decode(raw, req.charset)
            if detected is not None:
                warnings.append(detected)
            sha256 = hashlib.sha256(raw).hexdigest()
        else:
            assert req.content is not None  # exactly one of the two (the model checks)
            if req.charset is not None:
                raise InvalidInput(
                    msg("imports.request.charset_needs_base64"),
                    fields=[FieldError("charset", msg("imports.request.give_base64"))],
                )
            content = req.content
            sha256 = hashlib.sha256(content.encode()).hexdigest()
    elif media in CSV_TYPES or media in NDJSON_TYPES:
        if name is None:
            raise InvalidInput(
                msg("imports.request.name"),
                fields=[FieldError("name", msg("events.field.required"))],
            )
        content, detected = decode(body, charset or _charset_param(request))
        sha256 = hashlib.sha256(body).hexdigest()  # the file as sent, as the CLI hashes it
        if detected is not None:
            warnings.append(detected)
        fmt = "ndjson" if media in NDJSON_TYPES else "csv"
        mapping = ImportMapping(type=type)
    else:
        raise UnsupportedMediaType(msg("imports.request.media_type"))
    out = await run_import(
        db=state.db,
        eventlog=state.eventlog,
        tenant_id=principal.tenant_id,
        name=name,
        fmt=fmt,
        mapping=mapping,
        lines=io.StringIO(content.lstrip("\ufeff"), newline=""),
        sha256=sha256,
        file_name=file_name,
        auditor=auditor,
        clock=state.clock,
        warnings=warnings,
        locale=locale,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201)
