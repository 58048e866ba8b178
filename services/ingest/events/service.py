"""Canonical intake: parse a body into events, validate each, append the good ones.

A request answers 202 only after the event log holds every accepted event. Bad events do
not spoil a batch: each is named with its fields and reasons, and the good ones are kept.
If nothing in the request is valid the answer is 422. If the log cannot take the events,
nothing is acknowledged (503 with Retry-After) and the sender retries; a retry of events
that did reach the log is harmless, because scoring ignores repeated event ids.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

import orjson
from pydantic import ValidationError

from paceline.ingest.events.compiled import Compiled, compiled_event
from paceline.ingest.events.schemas import EventResult, FieldProblem, IngestResponse, MessageOut
from paceline.shared import metrics
from paceline.shared.errors import (
    BadRequest,
    EventLogUnavailable,
    FieldError,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from paceline.shared.eventlog import EventLog, LogRecord
from paceline.shared.events import (
    CanonicalEvent,
    contains_nul,
    envelope_head,
    field_errors,
    partition_key,
    split_unknown_fields,
    wrong_type_fields,
)
from paceline.shared.i18n import DEFAULT_LOCALE, Msg, from_json, msg, render, to_json

log = logging.getLogger(__name__)

JSON_TYPES: Final = frozenset({"application/json"})
NDJSON_TYPES: Final = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/jsonlines"}
)
# Events dated further ahead than this are refused; closer future dates are accepted and
# flagged by data-quality checks.
MAX_FUTURE: Final = timedelta(days=366)


class _Item(NamedTuple):  # immutable and cheap to build: one per event on the hot path
    position: int  # in the request (the answer's ``index``)
    raw: Any
    parse_error: Msg | None = None
    # True when the body it came from cannot hold a NUL character (no ``\u0000`` escape):
    # the per-field NUL scan is then skipped. Callers that do not know leave it False.
    nul_free: bool = False


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_body(body: bytes, content_type: str | None, *, max_events: int) -> list[_Item]:
    """Split a request body into raw items (one JSON value per event)."""
    media = _media_type(content_type)
    # JSON can only carry a NUL as the escape \u0000 (a raw NUL byte is invalid JSON).
    nul_free = b"\\u0000" not in body
    if media in JSON_TYPES:
        if not body.strip():
            raise BadRequest(msg("events.body.empty"))
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(msg("errors.body.bad_json", reason=str(exc))) from None
        if isinstance(data, list):
            if len(data) > max_events:
                raise PayloadTooLarge(msg("events.batch.too_many", max=max_events, count=len(data)))
            if not data:
                raise BadRequest(msg("events.body.empty_array"))
            return [_Item(i, raw, nul_free=nul_free) for i, raw in enumerate(data)]
        return [_Item(0, data, nul_free=nul_free)]
    if media in NDJSON_TYPES:
        items: list[_Item] = []
        for i, line in enumerate(body.split(b"\n")):
            if not line.strip():
                continue
            if len(items) >= max_events:
                raise PayloadTooLarge(msg("events.batch.too_many_lines", max=max_events))
            try:
                items.append(_Item(i, orjson.loads(line), nul_free=nul_free))
            except orjson.JSONDecodeError as exc:
                items.append(
                    _Item(i, None, msg("events.line.bad_json", line=i + 1, reason=str(exc)))
                )
        if not items:
            raise BadRequest(msg("events.body.no_events"))
        return items
    raise UnsupportedMediaType(msg("events.body.media_type"))


def validate_item(
    item: _Item, *, now: datetime, locale: str = DEFAULT_LOCALE
) -> tuple[CanonicalEvent | None, EventResult]:
    """Validate one raw item into a canonical event with the model, or say why not
    (reasons and warnings in ``locale``, with their codes; only a failing or warned item
    builds a message). The complete check: :func:`check_item` answers the same, faster."""
    if item.parse_error is not None:
        return None, EventResult(
            index=item.position,
            status="rejected",
            errors=[FieldProblem.of("(event)", item.parse_error, locale)],
        )
    raw = item.raw
    if not isinstance(raw, dict):
        return None, EventResult(
            index=item.position,
            status="rejected",
            errors=[FieldProblem.of("(event)", msg("events.not_an_object"), locale)],
        )
    event_id = raw.get("event_id") if isinstance(raw.get("event_id"), str) else None
    problems = (
        []
        if item.nul_free
        else [
            FieldProblem.of(str(k), msg("events.field.nul"), locale)
            for k, v in raw.items()
            if contains_nul(k) or contains_nul(v)
        ]
    )
    problems += [_problem(e, locale) for e in wrong_type_fields(raw)]
    if problems:
        return None, EventResult(
            index=item.position, event_id=event_id, status="rejected", errors=problems
        )
    data, unknown = split_unknown_fields(raw)
    notes = [msg("events.unknown_field", name=name) for name in unknown]
    warnings = [render(n, locale) for n in notes]
    codes = [MessageOut.of(n) for n in notes]
    try:
        event = CanonicalEvent.model_validate(data)
    except ValidationError as exc:
        return None, EventResult(
            index=item.position,
            event_id=event_id,
            status="rejected",
            errors=[_problem(e, locale) for e in field_errors(exc)],
            warnings=warnings,
            warning_codes=codes,
        )
    if event.occurred_at > now + MAX_FUTURE:
        return None, EventResult(
            index=item.position,
            event_id=event.event_id,
            status="rejected",
            errors=[FieldProblem.of("occurred_at", msg("events.time.too_far_ahead"), locale)],
            warnings=warnings,
            warning_codes=codes,
        )
    return event, EventResult(
        index=item.position,
        event_id=event.event_id,
        status="accepted",
        warnings=warnings,
        warning_codes=codes,
    )


def _problem(error: FieldError, locale: str) -> FieldProblem:
    reason = (
        error.reason if isinstance(error.reason, Msg) else msg("events.reason", text=error.reason)
    )
    return FieldProblem.of(error.field, reason, locale)


# What :func:`validate_item` gives for one item: the event (None if invalid) and its result.
Checked = tuple[CanonicalEvent | None, EventResult]
# What :func:`check_item` gives: the event as the log carries it (None if invalid), and its
# result as :class:`EventResult` writes it (``model_dump()``), built without the model.
Result = dict[str, Any]
Answered = tuple[Compiled | None, Result]


def compiled_of(event: CanonicalEvent) -> Compiled:
    """A validated model as the log carries it."""
    return Compiled(
        event.event_id,
        event.type,
        event.record_id,
        event.model_dump_json(exclude_none=True).encode(),
        [],
    )


def check_item(
    item: _Item, *, now: datetime, latest: datetime, locale: str = DEFAULT_LOCALE
) -> Answered:
    """What :func:`validate_item` answers for an item dated at most ``latest`` (``now +
    MAX_FUTURE``), through the compiled schema when it is sure, else through the model.

    The compiled schema (:mod:`.compiled`) accepts the common spelling of a valid event;
    everything else (every invalid event among them) goes to the model, so the errors and
    warnings are the model's and messages are built only for those items.
    """
    if item.nul_free:
        event = compiled_event(item.raw, latest=latest)
        if event is not None:
            if not event.unknown:
                return event, {
                    "index": item.position,
                    "event_id": event.event_id,
                    "status": "accepted",
                    "errors": [],
                    "warnings": [],
                    "warning_codes": [],
                }
            notes = [msg("events.unknown_field", name=name) for name in event.unknown]
            return event, {
                "index": item.position,
                "event_id": event.event_id,
                "status": "accepted",
                "errors": [],
                "warnings": [render(n, locale) for n in notes],
                "warning_codes": [to_json(n) for n in notes],
            }
    model, result = validate_item(item, now=now, locale=locale)
    return (None if model is None else compiled_of(model)), result.model_dump()


async def ingest_answer(
    *,
    items: Sequence[_Item],
    tenant_id: str,
    source: str,
    eventlog: EventLog,
    now: datetime,
    request_id: str | None,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """Validate items and append the valid ones to the log; the answer as
    :class:`IngestResponse` writes it (reasons and warnings in ``locale``)."""
    latest = now + MAX_FUTURE
    return await append_answered(
        answered=[check_item(item, now=now, latest=latest, locale=locale) for item in items],
        tenant_id=tenant_id,
        source=source,
        eventlog=eventlog,
        now=now,
        request_id=request_id,
    )


async def ingest_events(
    *,
    items: Sequence[_Item],
    tenant_id: str,
    source: str,
    eventlog: EventLog,
    now: datetime,
    request_id: str | None,
    locale: str = DEFAULT_LOCALE,
) -> IngestResponse:
    """:func:`ingest_answer` as a model (for callers in Python, not the hot path)."""
    return IngestResponse.model_validate(
        await ingest_answer(
            items=items,
            tenant_id=tenant_id,
            source=source,
            eventlog=eventlog,
            now=now,
            request_id=request_id,
            locale=locale,
        )
    )


async def append_checked(
    *,
    checked: Sequence[Checked],
    tenant_id: str,
    source: str,
    eventlog: EventLog,
    now: datetime,
    request_id: str | None,
) -> IngestResponse:
    """Append items already checked by :func:`validate_item` (not again); per-event results.

    Repeated event ids within the request are answered ``duplicate`` and appended once.
    """
    return IngestResponse.model_validate(
        await append_answered(
            answered=[
                (None if event is None else compiled_of(event), result.model_dump())
                for event, result in checked
            ],
            tenant_id=tenant_id,
            source=source,
            eventlog=eventlog,
            now=now,
            request_id=request_id,
        )
    )


async def append_answered(
    *,
    answered: Sequence[Answered],
    tenant_id: str,
    source: str,
    eventlog: EventLog,
    now: datetime,
    request_id: str | None,
) -> dict[str, Any]:
    """Append items already checked (:func:`check_item`); the answer as
    :class:`IngestResponse` writes it.

    Repeated event ids within the request are answered ``duplicate`` and appended once.
    """
    results: list[Result] = []
    records: list[LogRecord] = []
    seen: set[str] = set()
    types: list[str] = []
    head = envelope_head(tenant_id=tenant_id, source=source, received_at=now, request_id=request_id)
    for event, result in answered:
        if event is not None:
            if event.event_id in seen:
                result = {**result, "status": "duplicate"}
            else:
                seen.add(event.event_id)
                types.append(event.type)
                records.append(
                    LogRecord(
                        key=partition_key(tenant_id, event.type, event.record_id),
                        value=head + event.json + b"}",
                    )
                )
        results.append(result)
    counts = Counter(r["status"] for r in results)
    if not records:
        metrics.child(metrics.INGEST_EVENTS, source, "rejected").inc(counts["rejected"])
        fields = [
            FieldError(
                field=(f"[{r['index']}]." if len(results) > 1 else "") + e["field"],
                reason=from_json({"code": e["reason_code"], "params": e["reason_params"]}),
            )
            for r in results
            if r["status"] == "rejected"
            for e in r["errors"]
        ]
        raise InvalidInput(
            msg(
                "events.none_valid",
                fields=[
                    msg("errors.field_reason", field=f.field, reason=f.reason) for f in fields[:3]
                ],
            ),
            fields=fields,
        )
    try:
        await eventlog.append(records)
    except EventLogUnavailable:
        metrics.INGEST_LOG_FAILURES.inc()
        raise
    for status, count in counts.items():
        metrics.child(metrics.INGEST_EVENTS, source, status).inc(count)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "ingest: %d events appended to the log",
            len(records),
            extra={
                "request_id": request_id,
                "tenant": tenant_id,
                "source": source,
                "appended": len(records),
                "rejected": counts["rejected"],
            },
        )
    for ev_type, count in Counter(types).items():
        metrics.child(metrics.INGEST_EVENT_TYPES, ev_type).inc(count)
    return {
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "results": results,
    }
