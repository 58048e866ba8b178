"""The compiled schema of ``POST /v1/events``: valid events checked without the model.

:class:`~paceline.shared.events.CanonicalEvent` stays the canonical schema: it documents
the event (OpenAPI), names every reason a bad event is refused, and decodes what the log
carries. Validating each event with it costs 5-9 µs, mostly its Python validators, which
ingest's hot path cannot afford. This module checks the common, unambiguous spelling of a
valid event with one msgspec struct per event type (field types, lengths, literals, text
patterns and the other types' fields, all in C), then in Python the few rules a struct
cannot say (timestamps with offsets and years, decimals, currency, version, type rules,
attributes' limits), and writes the event's JSON exactly as the model would
(``model_dump_json(exclude_none=True)``).

It answers only "valid, and here are its bytes" or "not sure" (None). Not sure covers
every error and every lax spelling the model would coerce (whitespace it would strip,
``"yes"`` for a boolean, a timestamp without ``T``, a date too far ahead); the caller then
validates that event with the model, which accepts it or names the reasons, so a refused
event's answer is the model's, word for word. tests/ingest/test_compiled.py checks, with
generated events and mutations of them, that whatever this accepts the model accepts with
the same bytes and warnings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, NamedTuple

import msgspec
from msgspec import UNSET, Meta, UnsetType
from pydantic import TypeAdapter

from paceline.shared.events import (
    COMMON_FIELDS,
    ID_MAX,
    KNOWN_FIELDS,
    MAX_YEAR,
    MIN_YEAR,
    TYPE_FIELDS,
    CanonicalEvent,
    bounded_attributes,
    checked_decimal,
    split_unknown_fields,
)
from paceline.shared.i18n import Invalid
from paceline.shared.money import is_currency

_ID = Annotated[str, Meta(min_length=1, max_length=ID_MAX)]
_TEXT = Annotated[str, Meta(max_length=ID_MAX)]
_SEVERITY = Annotated[str, Meta(max_length=50)]
# RFC 3339 as most senders write it: the model reads more spellings, it is asked for those.
_TIME_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_TIME = Annotated[str, Meta(pattern=_TIME_PATTERN)]
_TIME_MATCH: Final = re.compile(_TIME_PATTERN).match
_DATE = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]
_DECIMAL = str | int | float | None
# Decimal text the model keeps as it is (str(Decimal(text)) == text): positive, a whole
# part of 1-15 digits without leading zeros (so never written with an exponent, and under
# the 10^15 limit), at most 10 places. ASCII digits only: \d would match other scripts.
_PLAIN_DECIMAL: Final = re.compile(r"[1-9][0-9]{0,14}(?:\.[0-9]{1,10})?\Z").match

# The struct type of each field of the model (a field the model gains and this map lacks
# fails at import: tests/ingest/test_compiled.py also compares the two field lists).
_TYPES: Final[Mapping[str, Any]] = {
    "event_id": _ID,
    "type": str,
    "occurred_at": _TIME,
    "rep_id": _ID,
    "customer_id": _ID | None,
    "entity_id": _ID | None,
    "version": int | str | None,
    "deleted": bool | UnsetType,
    "amount": _DECIMAL,
    "currency": str | None,
    "backfill": bool | None,
    "channel": CanonicalEvent.model_fields["channel"].annotation,
    "duration_min": _DECIMAL,
    "is_new_customer": bool | None,
    "source": _TEXT | None,
    "status": CanonicalEvent.model_fields["status"].annotation,
    "stage": CanonicalEvent.model_fields["stage"].annotation,
    "closed_at": _TIME | None,
    "margin": _DECIMAL,
    "product_line": _TEXT | None,
    "invoice_id": _ID | None,
    "amount_due": _DECIMAL,
    "due_date": _DATE | None,
    "amount_paid": _DECIMAL,
    "paid_at": _TIME | None,
    "severity": _SEVERITY | None,
    "opened_at": _TIME | None,
    "first_response_at": _TIME | None,
    "resolved_at": _TIME | None,
    "course": _TEXT | None,
    "passed": bool | None,
    "score": _DECIMAL,
    "nps": Annotated[int, Meta(ge=0, le=10)] | None,
    "attributes": dict[str, Any] | UnsetType,
}
_REQUIRED: Final = ("event_id", "type", "occurred_at", "rep_id")
_UNSET_DEFAULT: Final = frozenset({"deleted", "attributes"})
_TIMES: Final = frozenset({"closed_at", "paid_at", "opened_at", "first_response_at", "resolved_at"})
_DECIMALS: Final = frozenset(
    {"amount", "duration_min", "margin", "amount_due", "amount_paid", "score"}
)
_NOT_NEGATIVE: Final = frozenset({"duration_min", "amount_due", "amount_paid"})
# Text fields the model strips whitespace from (checked in Python: a pattern per field in
# the struct costs four times as much).
_TEXTS: Final = frozenset(
    {
        "event_id",
        "rep_id",
        "customer_id",
        "entity_id",
        "currency",
        "source",
        "product_line",
        "invoice_id",
        "severity",
        "course",
    }
)
_ZERO_OFFSETS: Final = ("+00:00", "-00:00")
_ATTRIBUTES_JSON: Final = TypeAdapter(dict[str, Any])
_ENCODER: Final = msgspec.json.Encoder()


class _Spec(NamedTuple):
    struct: type[msgspec.Struct]
    texts: tuple[str, ...]  # text the model would strip
    times: tuple[str, ...]  # timestamps other than occurred_at
    decimals: tuple[tuple[str, bool], ...]  # (name, must not be negative)


def _spec(event_type: str) -> _Spec:
    """The struct of one event type: the common fields and the type's own, in the model's
    order (the order the model writes them), the other types' fields unknown."""
    own = COMMON_FIELDS | TYPE_FIELDS[event_type]
    names = [n for n in CanonicalEvent.model_fields if n in own]
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (n, _TYPES[n]) if n in _REQUIRED else (n, _TYPES[n], UNSET if n in _UNSET_DEFAULT else None)
        for n in names
    ]
    struct = msgspec.defstruct(
        f"Compiled{event_type.title()}", fields, forbid_unknown_fields=True, omit_defaults=True
    )
    return _Spec(
        struct,
        tuple(n for n in names if n in _TEXTS),
        tuple(n for n in names if n in _TIMES),
        tuple((n, n in _NOT_NEGATIVE) for n in names if n in _DECIMALS),
    )


_SPECS: Final[Mapping[str, _Spec]] = {t: _spec(t) for t in TYPE_FIELDS}


class Compiled(NamedTuple):
    """A valid event as the log carries it, and the unknown fields moved to attributes."""

    event_id: str
    type: str
    record_id: str
    json: bytes  # CanonicalEvent.model_validate(...).model_dump_json(exclude_none=True)
    unknown: list[str]


def _time(text: str) -> tuple[datetime, str] | None:
    """A timestamp the pattern admitted, and its text as the model writes it (a fraction
    of six digits or none, a zero offset as Z); None if the model would refuse it."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        return None
    zone = text[-6:]
    if len(text) in (20, 25) and zone not in _ZERO_OFFSETS:
        return at, text  # whole seconds: written as given
    if text[-1] == "Z" or zone in _ZERO_OFFSETS:
        zone = "Z"
    micro = at.microsecond
    return at, text[:19] + (f".{micro:06d}" if micro else "") + zone


def compiled_event(raw: Any, *, latest: datetime) -> Compiled | None:
    """The event if ``raw`` is a valid event in the common spelling dated at most
    ``latest``; None when the model must decide (see the module's docstring)."""
    if type(raw) is not dict:
        return None
    kind = raw.get("type")
    if type(kind) is not str:
        return None
    spec = _SPECS.get(kind)
    if spec is None:
        return None
    unknown: list[str] = []
    data = raw
    if not KNOWN_FIELDS.issuperset(raw):
        data, unknown = split_unknown_fields(raw)
    try:
        event: Any = msgspec.convert(data, spec.struct)
    except msgspec.ValidationError:
        return None
    for name in spec.texts:
        # Nothing to strip: Python's whitespace (str.strip) includes every character
        # pydantic strips (Unicode White_Space), and strip() returns the string itself
        # when there is nothing to remove.
        value = getattr(event, name)
        if value is not None and value.strip() is not value:
            return None
    occurred = _time(event.occurred_at)
    if occurred is None or occurred[0] > latest:
        return None
    event.occurred_at = occurred[1]
    for name in spec.times:
        value = getattr(event, name)
        if value is not None:
            at = _time(value)
            if at is None:
                return None
            setattr(event, name, at[1])
    try:
        for name, not_negative in spec.decimals:
            value = getattr(event, name)
            if value is not None:
                if type(value) is str and name != "score" and _PLAIN_DECIMAL(value):
                    continue  # positive, within the limits, and written as it is
                number = checked_decimal(value)
                if number is None or (not_negative and number < 0):
                    return None
                if name == "score" and kind == "survey" and not 1 <= number <= 5:
                    return None
                setattr(event, name, str(number))
        attributes = event.attributes
        if attributes:
            # The model strips its keys too (they are its str): only keys with nothing to strip.
            for key in attributes:
                if key.strip() is not key:
                    return None
            tail = b',"attributes":' + _ATTRIBUTES_JSON.dump_json(bounded_attributes(attributes))
        else:
            tail = b',"attributes":{}'
    except Invalid:
        return None
    event.attributes = UNSET  # written by hand above, in pydantic's own JSON
    version = event.version
    if version is not None:
        if type(version) is int:
            if not 0 <= version < 10**18:
                return None
        elif version.isascii() and version.isdigit():
            if len(version) > 18:
                return None
            event.version = int(version)
        else:
            at = _time(version) if _TIME_MATCH(version) else None
            if at is None:
                return None
            event.version = at[1]
    currency = event.currency
    if currency is not None:
        code = currency.upper()
        if not is_currency(code):
            return None
        event.currency = code
    if event.deleted is UNSET:
        event.deleted = False
    if kind == "deal" and event.stage is None and not event.deleted:
        return None
    json = _ENCODER.encode(event)[:-1] + tail + b"}"
    return Compiled(event.event_id, kind, event.entity_id or event.event_id, json, unknown)
