"""Vendor records and their snapshots: what an adapter extracts from a payload.

An adapter turns a vendor payload into :class:`VendorRecord` values: one state (or one
change) of one CRM record, with a stable event id and the time the state was set. Many
CRMs send only what changed (a HubSpot property change, a Salesforce CDC update, a Zoho
notification), so records are folded into a :class:`Snapshot` kept per CRM record:
every field with the time it was last set, the newest value winning (a late, older change
never overwrites a newer one). The mapped canonical event carries the snapshot, and its
``version`` is the snapshot's newest time, so newer states win downstream too.

Times are microseconds since the epoch (``*_us``): enough to order Salesforce CDC events
of one transaction by their sequence number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from paceline.shared.i18n import Invalid

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAIVE_SPACE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_DIGITS = re.compile(r"^-?\d{1,19}(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class VendorRecord:
    """One state (or change) of one CRM record, as an adapter read it.

    ``fields`` are the vendor's field names and values this payload carries; ``partial``
    says they are only the changed ones (so missing owner or stage may come later).
    ``deleted`` is True for a deletion, False for a restore, None when unchanged.
    ``canonical`` holds a ready canonical event (the generic adapter) instead of fields.
    ``after_ties``: a change stamped with the same time as the newest known state comes
    after it (for vendors whose update time does not move on every change: 简道云's
    ``data_remove`` carries the record's last ``updateTime``).
    """

    object_type: str
    record_id: str
    event_id: str
    at_us: int
    fields: Mapping[str, Any] = field(default_factory=dict)
    deleted: bool | None = None
    partial: bool = False
    canonical: Mapping[str, Any] | None = None
    after_ties: bool = False


@dataclass(slots=True)
class Snapshot:
    """Everything known of one CRM record: ``{field: (value, set_at_us)}`` and deletion."""

    fields: dict[str, tuple[Any, int]] = field(default_factory=dict)
    deleted: bool = False
    deleted_at_us: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any], deleted: bool, deleted_at_us: int) -> Snapshot:
        """A snapshot from its stored form."""
        return cls(
            fields={k: (v[0], int(v[1])) for k, v in data.items()},
            deleted=deleted,
            deleted_at_us=deleted_at_us,
        )

    def to_json(self) -> dict[str, list[Any]]:
        """The stored form of the fields."""
        return {k: [v, at] for k, (v, at) in sorted(self.fields.items())}

    def merge(self, record: VendorRecord) -> None:
        """Fold a record in: per field, the value set latest wins (ties: the incoming one).

        A deletion counts only if nothing newer is known of the record (a change after it
        means the record came back); a restore only if no newer deletion is known. With
        ``after_ties``, a record that changes something (a deletion, a value) at exactly the
        newest known time is folded 1 µs later, so the snapshot's version moves and the
        change outranks the state before it downstream; the same record again changes
        nothing and keeps the version.
        """
        at = record.at_us
        if record.after_ties and self.fields and at == self.version_us and self._changes(record):
            at += 1
        if record.deleted is True and at >= self.version_us:
            self.deleted = True
            self.deleted_at_us = at
        elif record.deleted is False and at >= self.deleted_at_us:
            self.deleted = False
            self.deleted_at_us = at
        for name, value in record.fields.items():
            known = self.fields.get(name)
            if known is None or at >= known[1]:
                self.fields[name] = (value, at)

    def _changes(self, record: VendorRecord) -> bool:
        if record.deleted is not None and record.deleted != self.deleted:
            return True
        return any(
            name not in self.fields or self.fields[name][0] != value
            for name, value in record.fields.items()
        )

    def values(self) -> dict[str, Any]:
        """The current value of every known field."""
        return {k: v for k, (v, _at) in self.fields.items()}

    @property
    def version_us(self) -> int:
        """When the newest known change happened."""
        return max([self.deleted_at_us, *(at for _v, at in self.fields.values())])


# -- time and value parsing ----------------------------------------------------------------


def us_of(at: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = at.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """The UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=us)


def parse_time(value: Any) -> datetime | None:
    """A vendor timestamp as an aware datetime, or None when there is none.

    Accepts epoch numbers (milliseconds when above 10^11, else seconds), ISO 8601 with
    ``Z`` or an offset, naive ``YYYY-MM-DD HH:MM:SS`` (read as UTC, as Pipedrive v1 sends
    them) and dates alone (read as 12:00 UTC: the same calendar day in every zone from
    UTC-11 to UTC+11). Raises ValueError for text that is none of these.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(12), tzinfo=UTC)
    if isinstance(value, bool):
        raise Invalid("webhooks.value.not_a_time", value=str(value)[:100])
    if isinstance(value, int | float) or (isinstance(value, str) and _DIGITS.match(value)):
        number = Decimal(str(value))
        seconds = number / 1000 if abs(number) > 10**11 else number
        return _EPOCH + timedelta(seconds=float(seconds))
    if not isinstance(value, str):
        raise Invalid("webhooks.value.not_a_time", value=str(value)[:100])
    text = value.strip()
    if _DATE_ONLY.match(text):
        return datetime.combine(date.fromisoformat(text), time(12), tzinfo=UTC)
    if _NAIVE_SPACE.match(text):
        return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid("webhooks.value.not_a_time", value=str(value)[:100]) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_date(value: Any) -> date | None:
    """A vendor date (or the UTC date of a timestamp)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
        return date.fromisoformat(value.strip())
    at = parse_time(value)
    return at.date() if at is not None else None


def decimal_text(value: Any) -> str | None:
    """A vendor number as decimal text (floats through repr, so 0.1 stays 0.1)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Invalid("webhooks.value.not_a_number", value=str(value)[:100])
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        # Pipedrive v2 leads: {"amount": 100, "currency": "EUR"}
        return decimal_text(value.get("amount", value.get("value")))
    text = str(value).strip().replace(",", "")
    try:
        Decimal(text)
    except InvalidOperation:
        raise Invalid("webhooks.value.not_a_number", value=str(value)[:100]) from None
    return text


def id_text(value: Any) -> str | None:
    """A vendor id as text: objects like ``{"id": ...}`` (Zoho lookups) give their id."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, Mapping):
        for key in ("id", "value", "Id"):
            if value.get(key) not in (None, ""):
                return id_text(value[key])
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() or None


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``Owner.id``), or None; a key with dots wins if present."""
    if path in data:
        return data[path]
    current: Any = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.isascii()
            and part.isdigit()
            and int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return None
    return current
