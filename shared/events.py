"""The canonical event: one JSON shape for every source (docs/API.md, "The canonical event").

Adapters map CRM payloads into :class:`CanonicalEvent`; the event log carries it inside an
:class:`Envelope` that adds what the ingest service knows (tenant, source, receive time).

Validation errors name the field and the reason (:func:`field_errors`). Top-level fields
the model does not know are not dropped: they move into ``attributes`` and the ingest
result names them as warnings. A field that belongs to another event type (``stage`` on a
visit) is an error, because it almost always means a mapping mistake.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from paceline.shared.errors import FieldError
from paceline.shared.i18n import Invalid, Msg, msg
from paceline.shared.i18n.validation import reason_of
from paceline.shared.money import is_currency

EventType = Literal["visit", "lead", "quote", "deal", "payment", "complaint", "training", "survey"]
EVENT_TYPES: Final[tuple[str, ...]] = (
    "visit",
    "lead",
    "quote",
    "deal",
    "payment",
    "complaint",
    "training",
    "survey",
)

# Largest magnitude accepted for an amount: 10^15 in any currency is beyond any deal.
_MAX_AMOUNT = Decimal(10) ** 15
ATTRIBUTES_MAX_DEPTH: Final = 16
ATTRIBUTES_MAX_BYTES: Final = 64 * 1024
MIN_YEAR: Final = 1990
MAX_YEAR: Final = 2100
ID_MAX: Final = 200

COMMON_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "event_id",
        "type",
        "occurred_at",
        "rep_id",
        "customer_id",
        "entity_id",
        "version",
        "deleted",
        "amount",
        "currency",
        "backfill",
        "attributes",
    }
)
TYPE_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    "visit": frozenset({"channel", "duration_min"}),
    "lead": frozenset({"is_new_customer", "source"}),
    "quote": frozenset({"status"}),
    "deal": frozenset({"stage", "closed_at", "margin", "is_new_customer", "product_line"}),
    "payment": frozenset({"invoice_id", "amount_due", "due_date", "amount_paid", "paid_at"}),
    "complaint": frozenset({"severity", "opened_at", "first_response_at", "resolved_at"}),
    "training": frozenset({"course", "passed", "score"}),
    "survey": frozenset({"score", "nps"}),
}
ALL_TYPE_FIELDS: Final[frozenset[str]] = frozenset().union(*TYPE_FIELDS.values())
KNOWN_FIELDS: Final[frozenset[str]] = COMMON_FIELDS | ALL_TYPE_FIELDS
# Per type, the fields of other types (sorted, computed once: checked on every event).
FOREIGN_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    t: tuple(sorted(ALL_TYPE_FIELDS - fs)) for t, fs in TYPE_FIELDS.items()
}
_FOREIGN_SETS: Final[Mapping[str, frozenset[str]]] = {
    t: frozenset(fs) for t, fs in FOREIGN_FIELDS.items()
}


def _decimal(value: Any) -> Any:
    """Accept decimals as strings (preferred), integers or JSON numbers; never booleans."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise Invalid("events.decimal.boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # JSON numbers arrive as floats: go through repr so 0.1 stays 0.1.
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise Invalid("events.decimal.bad_text", value=value[:100]) from None
        return d
    raise Invalid("events.decimal.wrong_type")


def checked_decimal(value: Any) -> Decimal | None:
    """A decimal field's value (text, integer or JSON number) within the limits, or raise
    :class:`Invalid` with the reason."""
    d = _decimal(value)
    if d is None:
        return None
    if not d.is_finite():
        raise Invalid("events.decimal.not_finite")
    if abs(d) >= _MAX_AMOUNT:
        raise Invalid("events.decimal.too_large", digits=15)
    exponent = d.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        raise Invalid("events.decimal.too_many_places", places=10)
    result: Decimal = d
    return result


Amount = Annotated[Decimal | None, BeforeValidator(checked_decimal)]


def _depth(value: Any, level: int = 1) -> int:
    """How deeply a JSON value nests (stops counting past the limit)."""
    if level > ATTRIBUTES_MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level - 1


def wrong_type_fields(raw: Mapping[str, Any]) -> list[FieldError]:
    """Fields of another event type present in a raw event, each named (ingest reports them)."""
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in TYPE_FIELDS:
        return []
    out = []
    for name in FOREIGN_FIELDS[event_type]:
        if raw.get(name) is not None:
            owners = "/".join(sorted(t for t, fs in TYPE_FIELDS.items() if name in fs))
            out.append(
                FieldError(name, msg("events.field.wrong_type", type=event_type, owners=owners))
            )
    return out


def contains_nul(value: Any) -> bool:
    """Whether any string in a JSON value holds a NUL character (databases refuse them)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def bounded_attributes(value: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` if within the depth and size limits; else raise :class:`Invalid`."""
    if _depth(value) > ATTRIBUTES_MAX_DEPTH:
        raise Invalid("events.attributes.too_deep", levels=ATTRIBUTES_MAX_DEPTH)
    if len(orjson.dumps(value, default=str)) > ATTRIBUTES_MAX_BYTES:
        raise Invalid("events.attributes.too_large", kib=ATTRIBUTES_MAX_BYTES // 1024)
    return value


def _aware(value: datetime, name: str = "") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("events.time.no_offset")
    if not (MIN_YEAR <= value.year <= MAX_YEAR):
        raise Invalid("events.time.year_range", low=str(MIN_YEAR), high=str(MAX_YEAR))
    return value


Id = Annotated[str, Field(min_length=1, max_length=ID_MAX)]


class CanonicalEvent(BaseModel):
    """One state of one CRM record (or one standalone activity), in Paceline's shape."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    event_id: Id = Field(description="Unique per source; the idempotency key.")
    type: EventType
    occurred_at: datetime = Field(
        description="Event time with offset; the KPI day is this time in the tenant's zone."
    )
    rep_id: Id = Field(description="The owning salesperson's external id.")
    customer_id: Id | None = None
    entity_id: Id | None = Field(
        default=None,
        description="The CRM record this event is a state of; defaults to event_id.",
    )
    version: int | datetime | None = Field(
        default=None,
        description=(
            "Ordering of the record's states: an integer or the record's update time. "
            "Defaults to occurred_at."
        ),
    )
    deleted: bool = False
    amount: Amount = None
    currency: str | None = Field(default=None, description="ISO 4217; the tenant's if absent.")
    backfill: bool | None = Field(
        default=None,
        description=(
            "True for history sent late on purpose (a backfill or a migration), not live "
            "activity: it raises no back-dated flag, and the anomaly flags look at the "
            "recent past again. Imported events (source import:<name>) count as backfill "
            "without it."
        ),
    )
    # visit
    channel: Literal["onsite", "phone", "video"] | None = None
    duration_min: Annotated[Decimal | None, BeforeValidator(checked_decimal)] = None
    # lead / deal
    is_new_customer: bool | None = None
    source: Annotated[str, Field(max_length=ID_MAX)] | None = None
    # quote
    status: Literal["sent", "accepted", "rejected"] | None = None
    # deal
    stage: Literal["open", "won", "lost"] | None = None
    closed_at: datetime | None = None
    margin: Amount = None
    product_line: Annotated[str, Field(max_length=ID_MAX)] | None = None
    # payment
    invoice_id: Id | None = None
    amount_due: Amount = None
    due_date: date | None = None
    amount_paid: Amount = None
    paid_at: datetime | None = None
    # complaint
    severity: Annotated[str, Field(max_length=50)] | None = None
    opened_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    # training
    course: Annotated[str, Field(max_length=ID_MAX)] | None = None
    passed: bool | None = None
    # training score (0-100) or survey score (1-5)
    score: Annotated[Decimal | None, BeforeValidator(checked_decimal)] = None
    # survey
    nps: Annotated[int, Field(ge=0, le=10, strict=True)] | None = None
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            f"Anything else the source sent (at most {ATTRIBUTES_MAX_DEPTH} levels deep and "
            f"{ATTRIBUTES_MAX_BYTES // 1024} KiB as JSON)."
        ),
    )

    @field_validator(
        "occurred_at",
        "closed_at",
        "paid_at",
        "opened_at",
        "first_response_at",
        "resolved_at",
        mode="before",
    )
    @classmethod
    def _timestamps_are_iso_text(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | datetime):
            raise Invalid("events.time.not_text")
        return value

    @field_validator("attributes")
    @classmethod
    def _attributes_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        return bounded_attributes(value)

    @field_validator(
        "occurred_at", "closed_at", "paid_at", "opened_at", "first_response_at", "resolved_at"
    )
    @classmethod
    def _timestamps_have_offsets(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return _aware(value)

    @field_validator("version", mode="before")
    @classmethod
    def _version_int_or_time(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise Invalid("events.version.wrong_type")
        if isinstance(value, str) and re.fullmatch(r"\d{1,18}", value.strip()):
            return int(value)
        if isinstance(value, float):
            raise Invalid("events.version.fraction")
        return value

    @field_validator("version")
    @classmethod
    def _version_range(cls, value: int | datetime | None) -> int | datetime | None:
        if isinstance(value, int) and not (0 <= value < 10**18):
            raise Invalid("events.version.range")
        if isinstance(value, datetime):
            return _aware(value)
        return value

    @field_validator("currency")
    @classmethod
    def _iso4217(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if not is_currency(code):
            raise Invalid("events.currency.unknown", value=value[:20])
        return code

    @field_validator("duration_min", "amount_due", "amount_paid")
    @classmethod
    def _not_negative(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value < 0:
            raise Invalid("events.decimal.negative")
        return value

    @model_validator(mode="after")
    def _type_specific(self) -> CanonicalEvent:
        # Only fields given can be set (the others default to None): check those.
        wrong = sorted(
            name
            for name in self.model_fields_set & _FOREIGN_SETS[self.type]
            if getattr(self, name) is not None
        )
        if wrong:
            owners = {
                name: sorted(t for t, fs in TYPE_FIELDS.items() if name in fs) for name in wrong
            }
            raise Invalid(
                "events.fields.wrong_type",
                type=self.type,
                fields=[
                    msg("events.fields.belongs", field=n, owners="/".join(owners[n])) for n in wrong
                ],
            )
        if self.type == "deal" and self.stage is None and not self.deleted:
            raise Invalid("events.deal.stage_required")
        if self.type == "survey" and self.score is not None and not (1 <= self.score <= 5):
            raise Invalid("events.survey.score_range")
        return self

    # -- derived, used by the log and the KPI code ------------------------------------

    @property
    def record_id(self) -> str:
        """The CRM record this event is a state of (entity_id, else the event itself)."""
        return self.entity_id or self.event_id

    @property
    def version_rank(self) -> str:
        """A string that sorts like the record's versions (integers before timestamps)."""
        return version_rank(self.version if self.version is not None else self.occurred_at)

    @property
    def quote_status(self) -> str:
        """A quote's status; quotes without one count as sent."""
        return self.status or "sent"


def version_rank(version: int | datetime) -> str:
    """Sortable text for a version: ``i`` + 20 digits, or ``t`` + the UTC instant."""
    if isinstance(version, datetime):
        u = version.astimezone(UTC)  # as strftime("%Y%m%dT%H%M%S%f"), at a third of the cost
        return (
            f"t{u.year:04d}{u.month:02d}{u.day:02d}T{u.hour:02d}{u.minute:02d}{u.second:02d}"
            f"{u.microsecond:06d}"
        )
    return f"i{version:020d}"


def split_unknown_fields(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Move top-level fields the model does not know into ``attributes``; name them."""
    unknown = sorted(k for k in raw if k not in KNOWN_FIELDS)
    if not unknown:
        return dict(raw), []
    data = {k: v for k, v in raw.items() if k in KNOWN_FIELDS}
    attributes = raw.get("attributes")
    merged: dict[str, Any] = dict(attributes) if isinstance(attributes, Mapping) else {}
    for k in unknown:
        merged.setdefault(k, raw[k])
    if attributes is not None and not isinstance(attributes, Mapping):
        data["attributes"] = attributes  # let validation name the bad attributes
    else:
        data["attributes"] = merged
    return data, unknown


def _reason(err: Mapping[str, Any]) -> Msg:
    """A pydantic error of the canonical event as a catalog message: the event's own words
    for an unknown or a missing field, else the common translation
    (:func:`paceline.shared.i18n.validation.reason_of`)."""
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        return msg("events.field.unknown")
    if kind == "missing":
        return msg("events.field.required")
    return reason_of(err)


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[FieldError]:
    """Turn pydantic errors into FieldErrors that name the field and the reason (a Msg)."""
    out: list[FieldError] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        # Union members appear in loc ("int", "datetime"): keep only the field path.
        loc = [p for p in loc if p not in {"int", "datetime", "function-after[_aware()]"}]
        name = ".".join(loc) if loc else "(event)"
        out.append(FieldError(field=f"{prefix}{name}", reason=_reason(err)))
    # Union failures repeat the same field once per member: keep the first per field.
    seen: set[str] = set()
    unique = []
    for fe in out:
        if fe.field not in seen:
            seen.add(fe.field)
            unique.append(fe)
    return unique


class Envelope(BaseModel):
    """What travels on the event log: the event plus what the ingest service knows."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    tenant_id: str
    source: str
    received_at: datetime
    request_id: str | None = None
    event: CanonicalEvent

    def partition_key(self) -> bytes:
        """All versions of one CRM record share a key, so one partition keeps their order."""
        return partition_key(self.tenant_id, self.event.type, self.event.record_id)


_DATETIME_JSON: Final = TypeAdapter(datetime)


def envelope_encoder(
    *, tenant_id: str, source: str, received_at: datetime, request_id: str | None
) -> Callable[[CanonicalEvent], bytes]:
    """Encode validated events of one request as envelopes, without re-validating them.

    The bytes equal ``Envelope(...).model_dump_json(exclude_none=True)``: the header is
    encoded once per request and each event is serialized once (ingest's hot path).
    """
    head = envelope_head(
        tenant_id=tenant_id, source=source, received_at=received_at, request_id=request_id
    )

    def encode(event: CanonicalEvent) -> bytes:
        return head + event.model_dump_json(exclude_none=True).encode() + b"}"

    return encode


def envelope_head(
    *, tenant_id: str, source: str, received_at: datetime, request_id: str | None
) -> bytes:
    """The bytes of an envelope before its event: ``head + event_json + b"}"`` is the
    envelope of an event whose JSON is ``model_dump_json(exclude_none=True)``."""
    header: dict[str, Any] = {"v": 1, "tenant_id": tenant_id, "source": source}
    head = orjson.dumps(header)[:-1] + b',"received_at":' + _DATETIME_JSON.dump_json(received_at)
    if request_id is not None:
        head += b',"request_id":' + orjson.dumps(request_id)
    return head + b',"event":'


def partition_key(tenant_id: str, event_type: str, record_id: str) -> bytes:
    """The event-log key of a record: tenant, type and record id."""
    return f"{tenant_id}\x1f{event_type}\x1f{record_id}".encode()
