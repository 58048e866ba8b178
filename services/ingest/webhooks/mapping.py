"""Per-tenant field mappings: vendor records into canonical events (pure, no I/O).

A :class:`Mapping` is set per tenant and source (``PUT /v1/connectors/{source}/mapping``)
and starts as the adapter's defaults for a standard setup of the CRM. For each vendor
object type (``deal``, ``Opportunity``, ``Deals``...) an :class:`ObjectMapping` says:

* ``type`` — the canonical event type, or ``ignore`` (acknowledged, not counted);
* ``fields`` — canonical field -> vendor field path (``Owner.id``), a list of paths (the
  first non-empty wins) or ``{"path": ..., "when": {vendor_path: [values]}}`` (only when a
  condition holds, e.g. ``amount_paid`` only when the invoice status is ``Paid``), with
  value transforms (:class:`FieldSpec`: constants, lookups, number parsing with 万/亿 and
  ¥, multiply/divide/scale, time formats, zones and epoch units);
  ``$event_time`` and ``$record_id`` name the state's time and the record id;
* ``values`` — for enum-like fields, canonical value -> the vendor values that mean it
  (which stages are won and lost, which activity types are visits and on which channel);
* ``unmatched`` — what a vendor value outside ``values`` means, per field: ``quarantine``
  (the default: e.g. an unknown stage), ``skip`` (not an event: e.g. an activity type that
  is not a visit), ``null`` (leave the field unset) or a canonical value;
* ``skip_when`` / ``deleted_when`` — vendor values that make the record not an event
  (a draft quote) or a withdrawn one (a voided invoice, a meeting not held);
* ``attributes`` — attribute name -> vendor path (custom properties kept for formulas);
* ``defaults`` — constant canonical fields (``{"channel": "onsite"}``).

Owners map through ``owners`` (CRM owner id -> ``rep_id``); an owner missing from it is
used as it is (``unknown_owner: passthrough``, counted and flagged by scoring if the org
chart does not know it) or quarantined (``quarantine``).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paceline.ingest.webhooks.vendor_records import (
    Snapshot,
    VendorRecord,
    decimal_text,
    from_us,
    id_text,
    lookup,
    parse_date,
    parse_time,
)
from paceline.shared.events import COMMON_FIELDS, EVENT_TYPES, TYPE_FIELDS
from paceline.shared.i18n import Invalid, Msg, msg
from paceline.shared.money import parse_amount

CanonicalType = Literal[
    "visit", "lead", "quote", "deal", "payment", "complaint", "training", "survey", "ignore"
]
Scalar = str | int | float | bool | None

TIME_FIELDS: Final = frozenset(
    {"occurred_at", "closed_at", "paid_at", "opened_at", "first_response_at", "resolved_at"}
)
DATE_FIELDS: Final = frozenset({"due_date"})
DECIMAL_FIELDS: Final = frozenset(
    {"amount", "margin", "amount_due", "amount_paid", "duration_min", "score"}
)
BOOL_FIELDS: Final = frozenset({"is_new_customer", "passed"})
ID_FIELDS: Final = frozenset({"rep_id", "customer_id", "invoice_id"})
# What a mapping may fill (event_id, type, entity_id, version, deleted come from the record).
# A CRM's webhooks are live activity: ``backfill`` is not theirs to set.
MAPPABLE_COMMON: Final = frozenset(
    COMMON_FIELDS - {"event_id", "type", "entity_id", "attributes", "backfill"}
)
UNASSIGNED: Final = "unassigned"


class FieldSpec(BaseModel):
    """A canonical field's source with its value transforms, applied in this order:

    1. ``path`` (or a list: the first non-empty wins), or ``const`` (a constant), only
       ``when`` a condition holds;
    2. ``map``: a lookup of the vendor value (``{"赢单": "won"}``); a value not listed
       goes on unchanged (``values`` / ``unmatched`` still apply after it);
    3. reading the value as its field's kind: numbers through the one amount parser
       (thousands separators, ``5万``, ``1.2亿``, ``¥``/``元``: :func:`parse_amount`),
       times with ``format`` (``strptime``) or as ISO 8601 / epoch (``epoch``: ``s`` or
       ``ms``), a naive time in ``tz``;
    4. ``multiply``, ``divide``, ``scale``: exact Decimal arithmetic on numbers.
    """

    model_config = ConfigDict(extra="forbid")

    path: str | list[str] | None = None
    const: Scalar = Field(default=None, description="a constant value instead of a path")
    when: dict[str, list[Scalar]] | None = Field(
        default=None, description="vendor path -> values: use the path only when one matches"
    )
    map: dict[str, Scalar] | None = Field(
        default=None,
        description="vendor value -> value (a lookup, e.g. stage names: 赢单 -> won); values "
        "not listed go on unchanged",
    )
    scale: Decimal | None = Field(
        default=None,
        description="amounts and other numbers: multiply the vendor value by this, exactly "
        '(`"0.000001"` for micros such as Twenty\'s `amountMicros`, `"0.01"` for cents)',
    )
    multiply: Decimal | None = Field(default=None, description="numbers: multiply by this")
    divide: Decimal | None = Field(default=None, description="numbers: divide by this")
    format: str | None = Field(
        default=None,
        description='times and dates: the vendor\'s strptime format, e.g. "%Y-%m-%d %H:%M"',
    )
    tz: str | None = Field(
        default=None,
        description="times: the IANA zone a time without an offset is in (default UTC), "
        'e.g. "Asia/Shanghai"',
    )
    epoch: Literal["s", "ms"] | None = Field(
        default=None, description="times: a number is Unix seconds or milliseconds"
    )

    @field_validator("scale", "multiply", "divide")
    @classmethod
    def _finite_factor(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (not value.is_finite() or value == 0):
            raise Invalid("webhooks.mapping.factor")
        return value

    def problems(self, name: str) -> list[Msg]:
        """Why this spec cannot fill canonical field ``name`` (empty when it can)."""
        out = []
        if (self.path is None) == (self.const is None):
            out.append(msg("webhooks.mapping.path_or_const"))
        numeric = [k for k in ("scale", "multiply", "divide") if getattr(self, k) is not None]
        if numeric and name not in DECIMAL_FIELDS:
            out.append(msg("webhooks.mapping.numbers_only", options=", ".join(numeric)))
        timed = [k for k in ("format", "tz", "epoch") if getattr(self, k) is not None]
        if timed and name not in TIME_FIELDS | DATE_FIELDS:
            out.append(msg("webhooks.mapping.times_only", options=", ".join(timed)))
        if self.format is not None and "%" not in self.format:
            out.append(msg("webhooks.mapping.format_directive", format=self.format))
        if self.tz is not None:
            try:
                ZoneInfo(self.tz)
            except (ZoneInfoNotFoundError, ValueError):
                out.append(msg("webhooks.mapping.tz", tz=self.tz))
        return out


FieldSource = str | list[str] | FieldSpec


class ObjectMapping(BaseModel):
    """How one vendor object type becomes canonical events."""

    model_config = ConfigDict(extra="forbid")

    type: CanonicalType
    fields: dict[str, FieldSource] = Field(default_factory=dict)
    values: dict[str, dict[str, list[Scalar]]] = Field(default_factory=dict)
    unmatched: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    skip_when: dict[str, list[Scalar]] = Field(default_factory=dict)
    deleted_when: dict[str, list[Scalar]] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_fields(self) -> ObjectMapping:
        if self.type == "ignore":
            return self
        allowed = MAPPABLE_COMMON | TYPE_FIELDS[self.type]
        for group, names in (
            ("fields", self.fields),
            ("values", self.values),
            ("unmatched", self.unmatched),
            ("defaults", self.defaults),
        ):
            wrong = sorted(set(names) - allowed)
            if wrong:
                raise Invalid(
                    "webhooks.mapping.not_fields",
                    group=group,
                    fields=", ".join(wrong),
                    type=self.type,
                    allowed=", ".join(sorted(allowed)),
                )
        for name, spec in self.fields.items():
            if isinstance(spec, FieldSpec) and (problems := spec.problems(name)):
                raise Invalid("webhooks.mapping.field_problems", name=name, problems=problems)
        for name, policy in self.unmatched.items():
            if policy not in {"quarantine", "skip", "null"} and name not in self.values:
                raise Invalid("webhooks.mapping.unmatched_needs_values", name=name, policy=policy)
        if "rep_id" not in self.fields:
            raise Invalid("webhooks.mapping.rep_required")
        return self


class Mapping(BaseModel):
    """A tenant's mapping for one source."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "objects": {
                        "deal": {
                            "type": "deal",
                            "fields": {
                                "rep_id": "properties.hubspot_owner_id",
                                "stage": "properties.dealstage",
                                "amount": {"path": "properties.amount"},
                            },
                            "values": {"stage": {"won": ["closedwon"], "lost": ["closedlost"]}},
                        }
                    },
                    "ignore_objects": ["ticket"],
                    "owners": {"10001": "r-001"},
                    "unknown_owner": "quarantine",
                    "default_currency": "CNY",
                }
            ]
        },
        extra="forbid",
    )

    objects: dict[str, ObjectMapping] = Field(default_factory=dict)
    ignore_objects: list[str] = Field(
        default_factory=list, description="vendor object types acknowledged and not counted"
    )
    owners: dict[str, str] = Field(
        default_factory=dict, description="CRM owner id -> rep_id in the org chart"
    )
    unknown_owner: Literal["passthrough", "quarantine"] = "passthrough"
    default_currency: str | None = Field(
        default=None, min_length=3, max_length=3, description="when the CRM sends none"
    )


# -- mapping one record ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mapped:
    """A canonical event as raw JSON; the webhook service validates it once, before append."""

    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Skipped:
    """Not an event (ignored object, draft, activity that is not a visit...)."""

    reason: Msg


@dataclass(frozen=True, slots=True)
class Failed:
    """Cannot be mapped with the current mapping: quarantine it with this reason."""

    code: str
    reason: Msg


Outcome = Mapped | Skipped | Failed


def _matches(actual: Any, listed: list[Scalar]) -> bool:
    text = _norm(actual)
    return any(text == _norm(v) for v in listed)


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, MappingABC):
        return _norm(id_text(value))
    return "" if value is None else str(value).strip()


def _condition(data: MappingABC[str, Any], cond: dict[str, list[Scalar]]) -> bool:
    return any(_matches(lookup(data, path), values) for path, values in cond.items())


def _resolve(
    spec: FieldSource, data: MappingABC[str, Any], *, event_time: datetime, record_id: str
) -> tuple[Any, str]:
    """The value a field source gives (after its ``map`` lookup), and the path it came from."""
    lookup_table: dict[str, Scalar] | None = None
    if isinstance(spec, FieldSpec):
        if spec.when is not None and not all(
            _matches(lookup(data, p), vs) for p, vs in spec.when.items()
        ):
            return None, ""
        if spec.path is None:
            return spec.const, "const"
        lookup_table = spec.map
        spec = spec.path
    paths = [spec] if isinstance(spec, str) else spec
    for path in paths:
        if path == "$event_time":
            return event_time.isoformat(), path
        if path == "$record_id":
            return record_id, path
        value = lookup(data, path)
        if value not in (None, "", [], {}):
            if lookup_table is not None and _norm(value) in lookup_table:
                value = lookup_table[_norm(value)]
            return value, path
    return None, paths[0] if paths else ""


def _number(value: Any) -> str | None:
    """A vendor number as decimal text: text through the one amount parser (``5万``,
    ``¥1,200``), JSON numbers as they are."""
    if isinstance(value, str) and value.strip():
        try:
            return format(parse_amount(value)[0], "f")
        except ValueError:
            raise Invalid("webhooks.value.not_a_number", value=value[:100]) from None
    return decimal_text(value)


def _time(value: Any, spec: FieldSpec | None) -> datetime | None:
    """A vendor time, read with the spec's format, epoch unit and zone when it has them."""
    if spec is None or value is None or value == "":
        return parse_time(value)
    zone = ZoneInfo(spec.tz) if spec.tz else None
    if spec.format is not None and isinstance(value, str):
        try:
            at = datetime.strptime(value.strip(), spec.format)  # noqa: DTZ007  # zone below
        except ValueError:
            raise Invalid("webhooks.value.format", value=value[:100], format=spec.format) from None
    elif spec.epoch is not None and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise Invalid("webhooks.value.epoch", value=str(value)[:100], unit=spec.epoch) from None
        seconds = number / 1000 if spec.epoch == "ms" else number
        return from_us(int(seconds * 1_000_000))
    elif isinstance(value, str) and zone is not None:
        text = value.strip().replace("Z", "+00:00")
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            return parse_time(value)
    else:
        return parse_time(value)
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone or UTC)
    return at


def _convert(name: str, value: Any, spec: FieldSpec | None = None) -> Any:
    if name in TIME_FIELDS:
        at = _time(value, spec)
        return at.isoformat() if at is not None else None
    if name in DATE_FIELDS:
        if spec is not None and (spec.format or spec.epoch or spec.tz):
            at = _time(value, spec)
            return at.date().isoformat() if at is not None else None
        day = parse_date(value)
        return day.isoformat() if day is not None else None
    if name in DECIMAL_FIELDS:
        text = _number(value)
        if text is None or spec is None:
            return text
        number = Decimal(text)
        for factor in (spec.multiply, spec.scale):
            if factor is not None:
                number *= factor
        if spec.divide is not None:
            number /= spec.divide
        return format(number.normalize(), "f")
    if name in BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        text = _norm(value).lower()
        if text in {"true", "1", "yes", "是"}:
            return True
        if text in {"false", "0", "no", "否"}:
            return False
        raise Invalid("webhooks.value.not_yes_no", value=str(value)[:100])
    if name in ID_FIELDS or name in {"source", "severity", "product_line", "course"}:
        return id_text(value)
    if name == "currency":
        return id_text(value)
    if isinstance(value, MappingABC):
        return id_text(value)
    return value


def map_record(
    record: VendorRecord,
    snapshot: Snapshot,
    *,
    objmap: ObjectMapping,
    mapping: Mapping,
) -> Outcome:
    """The canonical event for a record's snapshot, or why there is none."""
    data = snapshot.values()
    event_time = from_us(snapshot.version_us or record.at_us)
    deleted = snapshot.deleted or (
        bool(objmap.deleted_when) and _condition(data, objmap.deleted_when)
    )
    if not deleted and objmap.skip_when and _condition(data, objmap.skip_when):
        return Skipped(
            msg("webhooks.skip.skip_when", object=record.object_type, id=record.record_id)
        )
    incomplete = "incomplete" if record.partial else None
    event: dict[str, Any] = {}

    owner_raw, owner_path = _resolve(
        objmap.fields["rep_id"], data, event_time=event_time, record_id=record.record_id
    )
    owner = id_text(owner_raw)
    if owner is None:
        if not deleted:
            return Failed(
                incomplete or "no_owner",
                msg(
                    "webhooks.map.no_owner",
                    object=record.object_type,
                    id=record.record_id,
                    path=owner_path,
                ),
            )
        rep_id = UNASSIGNED
    elif owner in mapping.owners:
        rep_id = mapping.owners[owner]
    elif mapping.unknown_owner == "quarantine" and not deleted:
        return Failed(
            "unknown_owner",
            msg(
                "webhooks.map.unknown_owner",
                object=record.object_type,
                id=record.record_id,
                owner=owner,
            ),
        )
    else:
        rep_id = owner

    for name, spec in objmap.fields.items():
        if name == "rep_id":
            continue
        raw, path = _resolve(spec, data, event_time=event_time, record_id=record.record_id)
        if name in objmap.values:
            if raw is None:
                continue
            found = next(
                (canon for canon, vendor in objmap.values[name].items() if _matches(raw, vendor)),
                None,
            )
            if found is None:
                policy = objmap.unmatched.get(name, "quarantine")
                if policy == "null" or (deleted and policy == "quarantine"):
                    continue
                if policy == "skip":
                    return Skipped(
                        msg(
                            "webhooks.skip.unmapped_value",
                            object=record.object_type,
                            id=record.record_id,
                            field=name,
                            value=str(_norm(raw))[:200],
                        )
                    )
                if policy == "quarantine":
                    return Failed(
                        "unknown_value",
                        msg(
                            "webhooks.map.unknown_value",
                            object=record.object_type,
                            id=record.record_id,
                            field=name,
                            value=str(_norm(raw))[:200],
                            path=path,
                        ),
                    )
                found = policy
            raw = found
        if raw is None:
            continue
        try:
            value = _convert(name, raw, spec if isinstance(spec, FieldSpec) else None)
        except (ValueError, ArithmeticError) as exc:
            return Failed(
                "invalid_event",
                msg(
                    "webhooks.map.bad_value",
                    object=record.object_type,
                    id=record.record_id,
                    field=name,
                    reason=exc.msg if isinstance(exc, Invalid) else str(exc),
                ),
            )
        if value is not None:
            event[name] = value
    for name, value in objmap.defaults.items():
        event.setdefault(name, value)
    if (
        "currency" not in event
        and mapping.default_currency
        and ("amount" in event or "amount_due" in event or "amount_paid" in event)
    ):
        event["currency"] = mapping.default_currency
    if objmap.type == "deal" and "stage" not in event and not deleted:
        return Failed(
            incomplete or "unknown_value",
            msg(
                "webhooks.map.no_stage",
                object=record.object_type,
                id=record.record_id,
                path=str(objmap.fields.get("stage")),
            ),
        )

    attributes: dict[str, Any] = {}
    for attr, path in objmap.attributes.items():
        value = lookup(data, path)
        if value not in (None, ""):
            attributes[attr] = value
    event.update(
        {
            "event_id": record.event_id,
            "type": objmap.type,
            "rep_id": rep_id,
            "entity_id": record.record_id,
            "version": event_time.isoformat(),
            "deleted": deleted,
        }
    )
    event.setdefault("occurred_at", event_time.isoformat())
    if attributes:
        event["attributes"] = attributes
    return Mapped(event)


def map_canonical(raw: MappingABC[str, Any], *, mapping: Mapping) -> Outcome:
    """A canonical event from the generic adapter: only owners and currency are mapped."""
    event = dict(raw)
    rep = event.get("rep_id")
    if isinstance(rep, str) and rep in mapping.owners:
        event["rep_id"] = mapping.owners[rep]
    elif (
        isinstance(rep, str)
        and mapping.owners
        and mapping.unknown_owner == "quarantine"
        and not event.get("deleted")
    ):
        return Failed("unknown_owner", msg("webhooks.map.unknown_owner_canonical", owner=rep))
    if mapping.default_currency and "currency" not in event and "amount" in event:
        event["currency"] = mapping.default_currency
    if event.get("type") not in EVENT_TYPES:
        return Failed(
            "invalid_event", msg("webhooks.map.bad_type", type=str(event.get("type"))[:100])
        )
    return Mapped(event)
