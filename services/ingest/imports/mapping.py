"""Rows of a history file -> canonical event data, through the column mapping.

Cells are text in CSV: each canonical field has a kind (timestamp, date, amount, decimal,
integer, boolean, text) that says how its text is read. Problems are named per field
(and the column it came from), never raised: the import reports the row and goes on.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from paceline.ingest.imports.schemas import ImportMapping
from paceline.shared.errors import FieldError, InvalidInput, PayloadTooLarge
from paceline.shared.events import EVENT_TYPES, KNOWN_FIELDS, CanonicalEvent
from paceline.shared.i18n import Invalid, Msg, msg
from paceline.shared.money import parse_amount

KINDS: Final[dict[str, str]] = {
    "occurred_at": "datetime",
    "closed_at": "datetime",
    "paid_at": "datetime",
    "opened_at": "datetime",
    "first_response_at": "datetime",
    "resolved_at": "datetime",
    "version": "version",
    "due_date": "date",
    "amount": "amount",
    "margin": "amount",
    "amount_due": "amount",
    "amount_paid": "amount",
    "duration_min": "decimal",
    "score": "decimal",
    "nps": "int",
    "deleted": "bool",
    "backfill": "bool",
    "is_new_customer": "bool",
    "passed": "bool",
}
_TRUE = frozenset({"true", "t", "yes", "y", "1", "是", "对", "真"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "否", "错", "假"})
# Bounds on a file's shape (issue 17, hole 2): a header of 40,000 columns once held the
# event loop for 38 s. Every step below is linear in the file; these keep each row small.
MAX_COLUMNS: Final = 500
MAX_HEADER_CHARS: Final = 200
MAX_CELL_CHARS: Final = 10_000
_SLASH_DATE = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(.*)$")


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a file: its 1-based line, its cells (or JSON object), or why it is unreadable."""

    line: int
    raw: Mapping[str, Any]
    parse_error: Msg | None = None


def csv_rows(lines: Iterable[str], *, delimiter: str) -> tuple[list[str], Iterator[Row]]:
    """The header and the rows of a CSV file (blank rows skipped; BOM and spaces stripped)."""
    reader = csv.reader(iter(lines), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(
            msg("imports.file.empty"),
            fields=[FieldError("content", msg("imports.file.needs_header"))],
        ) from None
    except csv.Error as exc:
        raise InvalidInput(
            msg("imports.header.bad_csv"),
            fields=[FieldError("content", msg("imports.header.bad_csv_why", why=str(exc)))],
        ) from None
    header = check_header(header)

    def rows() -> Iterator[Row]:
        previous = reader.line_num
        try:
            for cells in reader:
                start = previous + 1
                previous = reader.line_num
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    yield Row(
                        start,
                        {},
                        msg("imports.row.cells", cells=len(cells), columns=len(header)),
                    )
                    continue
                long = next((i for i, c in enumerate(cells) if len(c) > MAX_CELL_CHARS), None)
                if long is not None:
                    yield Row(
                        start,
                        {},
                        msg("imports.row.long_cell", max=MAX_CELL_CHARS, column=header[long]),
                    )
                    continue
                yield Row(start, dict(zip(header, cells, strict=True)))
        except csv.Error as exc:
            yield Row(previous + 1, {}, msg("imports.row.bad_csv", why=str(exc)))

    return header, rows()


def check_header(cells: list[str]) -> list[str]:
    """The header's column names (BOM and spaces stripped), or 413/422 naming ``content``:
    at most 500 columns of at most 200 characters, none repeated (checked in linear time)."""
    if len(cells) > MAX_COLUMNS:
        reason = msg("imports.header.columns", count=len(cells), max=MAX_COLUMNS)
        raise PayloadTooLarge(
            msg("imports.header.too_many", reason=reason), fields=[FieldError("content", reason)]
        )
    header = [h.strip().lstrip("\ufeff").strip() for h in cells]
    long = [h for h in header if len(h) > MAX_HEADER_CHARS]
    if long:
        raise InvalidInput(
            msg("imports.header.long_name"),
            fields=[
                FieldError(
                    "content",
                    msg("imports.header.long_name_why", column=long[0][:40], max=MAX_HEADER_CHARS),
                )
            ],
        )
    counts = Counter(header)
    dupes = sorted(h for h, n in counts.items() if n > 1)
    if dupes:
        raise InvalidInput(
            msg("imports.header.repeats"),
            fields=[FieldError("content", msg("imports.header.repeated", column=h)) for h in dupes],
        )
    if not any(header):
        raise InvalidInput(
            msg("imports.header.empty"),
            fields=[FieldError("content", msg("imports.header.no_columns"))],
        )
    return header


def ndjson_rows(lines: Iterable[str]) -> Iterator[Row]:
    """The rows of an NDJSON file (one JSON object per line; blank lines skipped)."""
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield Row(n, {}, msg("imports.row.bad_json", why=str(exc)))
            continue
        if not isinstance(value, dict):
            yield Row(n, {}, msg("imports.row.not_object"))
            continue
        if len(value) > MAX_COLUMNS:
            yield Row(n, {}, msg("imports.row.fields", count=len(value), max=MAX_COLUMNS))
            continue
        yield Row(n, value)


def _target_ok(target: str) -> bool:
    return target in KNOWN_FIELDS or (
        target.startswith("attributes.") and len(target) > len("attributes.")
    )


def check_mapping(mapping: ImportMapping, *, default_tz: str) -> ZoneInfo:
    """422 naming each part of the mapping that cannot work; the zone for naive times."""
    errors = []
    for header, target in mapping.columns.items():
        if target is not None and not _target_ok(target):
            errors.append(
                FieldError(
                    f"mapping.columns.{header}",
                    msg("imports.mapping.not_field_or_attribute", target=target),
                )
            )
    for name in mapping.constants:
        if not _target_ok(name):
            errors.append(FieldError(f"mapping.constants.{name}", msg("imports.mapping.not_field")))
    for name, table in mapping.values.items():
        if name not in KNOWN_FIELDS:
            errors.append(FieldError(f"mapping.values.{name}", msg("imports.mapping.not_field")))
        for file_value, canonical in table.items():
            if isinstance(canonical, dict):  # one file value setting several fields
                errors.extend(
                    FieldError(
                        f"mapping.values.{name}.{file_value}.{key}",
                        msg("imports.mapping.not_field"),
                    )
                    for key in canonical
                    if not _target_ok(str(key))
                )
    for name, fmt in mapping.date_formats.items():
        if name != "*" and KINDS.get(name) not in {"datetime", "date", "version"}:
            errors.append(
                FieldError(f"mapping.date_formats.{name}", msg("imports.mapping.not_date_field"))
            )
        if "%" not in fmt:
            errors.append(
                FieldError(f"mapping.date_formats.{name}", msg("imports.mapping.needs_strptime"))
            )
    tz_name = mapping.timezone or default_tz
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(FieldError("mapping.timezone", msg("imports.mapping.timezone", tz=tz_name)))
        tz = ZoneInfo("UTC")
    if errors:
        raise InvalidInput(msg("imports.mapping.unusable"), fields=errors)
    return tz


class RowMapper:
    """Turns rows into canonical event data with a mapping; collects file-level warnings."""

    def __init__(self, mapping: ImportMapping, *, tz: ZoneInfo) -> None:
        self.mapping = mapping
        self.tz = tz
        self.warnings: dict[str, Msg] = {}
        self._lower_values = {
            f: {str(k).strip().lower(): v for k, v in vm.items()}
            for f, vm in mapping.values.items()
        }

    def _target(self, column: str) -> str | None:
        if column in self.mapping.columns:
            return self.mapping.columns[column]
        if column in KNOWN_FIELDS or column.startswith("attributes."):
            return column
        if column not in self.warnings:
            self.warnings[column] = msg("imports.column.kept", column=column)
        return f"attributes.{column}"

    def map(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        """Canonical event data for a row, and the problems found on the way."""
        data: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        problems: list[FieldError] = []
        currency_mark: tuple[str, str] | None = None  # (currency, field it came from)
        for column, cell in raw.items():
            target = self._target(column)
            if target is None or cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            value = cell.strip() if isinstance(cell, str) else cell
            if target == "attributes":
                if isinstance(value, dict):
                    attributes.update(value)
                else:
                    problems.append(FieldError("attributes", msg("imports.row.not_object")))
                continue
            if target.startswith("attributes."):
                attributes[target.removeprefix("attributes.")] = value
                continue
            translated = self._translate(target, value)
            # A file value may stand for several fields (Pipedrive's status "Deleted" is
            # {"deleted": true}, not a stage): values: {"stage": {"Deleted": {...}}}.
            several = isinstance(translated, dict) and not isinstance(value, dict)
            pairs = list(translated.items()) if several else [(target, translated)]
            for name, item in pairs:
                if name.startswith("attributes."):
                    attributes[name.removeprefix("attributes.")] = item
                    continue
                label = (
                    name
                    if column == name
                    else msg("imports.label.column", name=name, column=column)
                )
                try:
                    converted, mark = self._convert(name, item)
                except ValueError as exc:
                    problems.append(FieldError(name, _labelled(label, exc)))
                    continue
                if mark is not None:
                    if currency_mark is not None and currency_mark[0] != mark:
                        problems.append(
                            FieldError(
                                name,
                                msg(
                                    "imports.currency.differs",
                                    label=label,
                                    currency=mark,
                                    other=currency_mark[0],
                                    field=currency_mark[1],
                                ),
                            )
                        )
                    currency_mark = (mark, name)
                data[name] = converted
        for name, value in self.mapping.constants.items():
            if name.startswith("attributes."):
                attributes.setdefault(name.removeprefix("attributes."), value)
            elif name not in data:
                try:
                    data[name] = self._convert(name, value)[0]
                except ValueError as exc:
                    label = msg("imports.label.constant", name=name)
                    problems.append(FieldError(name, _labelled(label, exc)))
        if "type" not in data and self.mapping.type is not None:
            data["type"] = self.mapping.type
        if isinstance(data.get("type"), str):
            data["type"] = data["type"].strip().lower()
            if data["type"] not in EVENT_TYPES:
                problems.append(
                    FieldError(
                        "type",
                        msg(
                            "imports.type.unknown", type=data["type"][:50], types=list(EVENT_TYPES)
                        ),
                    )
                )
        if currency_mark is not None:
            given = data.get("currency")
            if given is None:
                data["currency"] = currency_mark[0]
            elif str(given).upper() != currency_mark[0]:
                problems.append(
                    FieldError(
                        "currency",
                        msg(
                            "imports.currency.column_differs",
                            given=str(given)[:20],
                            field=currency_mark[1],
                            currency=currency_mark[0],
                        ),
                    )
                )
        if attributes:
            data["attributes"] = attributes
        return data, problems

    def _translate(self, target: str, value: Any) -> Any:
        table = self.mapping.values.get(target)
        if table is None or not isinstance(value, str | int | float | bool):
            return value
        key = str(value)
        if key in table:
            return table[key]
        return self._lower_values[target].get(key.strip().lower(), value)

    def _convert(self, target: str, value: Any) -> tuple[Any, str | None]:
        kind = KINDS.get(target)
        if not isinstance(value, str):
            if kind in {"datetime", "version"} and isinstance(value, int | float):
                return value, None  # let validation say what is wrong
            return value, None
        fmt = self.mapping.date_formats.get(target) or self.mapping.date_formats.get("*")
        if kind == "datetime":
            return self._datetime(value, fmt).isoformat(), None
        if kind == "version":
            if re.fullmatch(r"\d{1,18}", value):
                return int(value), None
            return self._datetime(value, fmt).isoformat(), None
        if kind == "date":
            return self._date(value, fmt).isoformat(), None
        if kind == "amount":
            amount, currency = parse_amount(value, self.mapping.decimal_separator)
            return str(amount), currency
        if kind == "decimal":
            return str(parse_amount(value, self.mapping.decimal_separator)[0]), None
        if kind == "int":
            try:
                return int(value), None
            except ValueError:
                raise Invalid("imports.value.not_whole", value=value[:100]) from None
        if kind == "bool":
            low = value.lower()
            if low in _TRUE:
                return True, None
            if low in _FALSE:
                return False, None
            raise Invalid("imports.value.not_bool", value=value[:100])
        return value, None

    def _datetime(self, text: str, fmt: str | None) -> datetime:
        if fmt:
            try:
                parsed = datetime.strptime(text, fmt)  # noqa: DTZ007  # zone added below
            except ValueError:
                raise Invalid("imports.value.format", value=text[:100], format=fmt) from None
        else:
            parsed = _iso_datetime(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz)
        return parsed

    def _date(self, text: str, fmt: str | None) -> date:
        if fmt:
            try:
                return datetime.strptime(text, fmt).date()  # noqa: DTZ007  # a calendar date
            except ValueError:
                raise Invalid("imports.value.format", value=text[:100], format=fmt) from None
        return _iso_datetime(text).date()


def _iso_datetime(text: str) -> datetime:
    value = text.strip()
    if m := _SLASH_DATE.match(value):
        value = f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}{m[4]}"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), time(0))
        except ValueError:
            raise Invalid("imports.value.not_a_time", value=text[:100]) from None
    return parsed


def _labelled(label: str | Msg, exc: ValueError) -> Msg:
    """A cell's problem, named by its field (and column)."""
    reason = exc.msg if isinstance(exc, Invalid) else str(exc)
    return msg("imports.cell.problem", label=label, reason=reason)


def derived_event_id(event: CanonicalEvent) -> str:
    """A stable id for a row without one: record id + version, else a digest of the event.

    The same row imported again gets the same id, so scoring ignores it the second time.
    """
    if event.entity_id and event.version is not None:
        candidate = f"{event.type}:{event.entity_id}@{event.version_rank}"
        if len(candidate) <= 200:
            return candidate
    digest = hashlib.sha256(
        event.model_dump_json(exclude={"event_id"}, exclude_none=True).encode()
    ).hexdigest()[:32]
    if event.entity_id:
        candidate = f"{event.type}:{event.entity_id}#{digest}"
        if len(candidate) <= 200:
            return candidate
    return f"{event.type}#{digest}"


def content_digest(event: CanonicalEvent) -> str:
    """A digest of an event's content (to tell a repeated row from a conflicting one)."""
    return hashlib.sha256(event.model_dump_json(exclude_none=True).encode()).hexdigest()[:16]
