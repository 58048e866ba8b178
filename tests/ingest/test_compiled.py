"""The compiled schema of ``POST /v1/events`` answers exactly what the model answers.

:func:`check_item` (the hot path: the compiled schema, the model for what it is not sure
of) against :func:`validate_item` (the model alone, the path before it): for generated
events, valid ones in many spellings and mutations of them (wrong types, missing fields,
odd timestamps, negative or huge amounts, bad currencies, unknown and foreign fields,
deep attributes, versions of every form), the status, the errors, the warnings, the
answer's bytes and the envelope bytes on the log are the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from paceline.ingest.events import compiled
from paceline.ingest.events.compiled import compiled_event
from paceline.ingest.events.service import (
    MAX_FUTURE,
    _Item,
    check_item,
    parse_body,
    validate_item,
)
from paceline.shared.events import (
    COMMON_FIELDS,
    TYPE_FIELDS,
    CanonicalEvent,
    Envelope,
    checked_decimal,
    envelope_head,
    split_unknown_fields,
)

NOW = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
LATEST = NOW + MAX_FUTURE

# Whitespace of every kind the model or Python knows (pydantic strips Unicode White_Space;
# Python's str.strip also strips \x1c-\x1f), and look-alikes that are neither.
WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u3000\u180e\u200b\ufeff"
# Every character orjson can carry (no lone surrogates), control characters included.
CHARS = st.characters(blacklist_categories=("Cs",))
# The same without NUL (an event holding one is refused).
TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
SAFE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.:/", min_size=1, max_size=12)


def edged(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text with, sometimes, whitespace or a look-alike at either end."""
    ends = st.sampled_from(["", "", "", *WHITESPACE])
    return st.builds(lambda a, b, c: a + b + c, ends, inner, ends)


IDS = st.one_of(
    SAFE,
    edged(SAFE),
    st.text(CHARS, min_size=1, max_size=8),
    st.just(""),
    st.integers(195, 205).map(lambda n: "x" * n),
    st.sampled_from(["客户-1", "r\x00", "a\x1fb", "\u00e9t\u00e9", "😀"]),
)

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(CHARS, max_size=10)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


CLEAN_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(TEXT_CHARS, max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(TEXT_CHARS, max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def timestamps(draw: st.DrawFn, *, canonical: bool = False) -> str:
    """Timestamp text: RFC 3339 as most senders write it, or (unless canonical) the
    spellings the model also reads or refuses."""
    # st.datetimes draws naive values between naive bounds: the offset is added as text.
    naive_now = NOW.replace(tzinfo=None)
    low, high = (naive_now.replace(year=1995), naive_now)
    if not canonical:
        low, high = naive_now.replace(year=1985), naive_now.replace(year=2105)
    at = draw(st.datetimes(min_value=low, max_value=high))
    digits = draw(st.sampled_from([0, 0, 3, 6] if canonical else [0, 0, 1, 3, 6, 7, 9]))
    zones = ["Z", "+00:00", "-00:00", "+08:00", "-05:30", "+23:59", "+14:00"]
    if not canonical:
        zones += ["z", "+24:00", "+0800", "+08", "", "+08:00:30", "-99:00"]
    zone = draw(st.sampled_from(zones))
    sep = "T" if canonical else draw(st.sampled_from(["T", "T", "t", " "]))
    clock = at.strftime("%H:%M:%S")
    if not canonical and draw(st.booleans()):
        clock = clock[:5]
    fraction = f"{at.microsecond:06d}{draw(st.integers(0, 999)):03d}"[:digits]
    text = f"{at.year:04d}-{at.month:02d}-{at.day:02d}{sep}{clock}"
    return text + (f".{fraction}" if digits else "") + zone


ODD_TIMES = st.sampled_from(
    [
        "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z",
        "2026-11-02T24:00:00Z",
        "2026-11-02T09:00:60Z",
        "1700000000",
        "2026-11-02",
        "",
        " 2026-11-02T09:00:00Z",
        "2026-11-02T09:00:00Z ",
        "20261102T090000Z",
        "٢٠٢٦-11-02T09:00:00Z",
    ]
)
TIMES = timestamps() | ODD_TIMES | JSON_SCALARS


@st.composite
def decimal_texts(draw: st.DrawFn, *, canonical: bool = False) -> str:
    """Decimal text: plain (``"1200.00"``), or (unless canonical) with signs, exponents,
    leading zeros, whitespace, underscores, too many places or digits."""
    whole = draw(st.integers(0, 10**15 - 1 if canonical else 10**17))
    places = draw(st.integers(0, 4 if canonical else 12))
    frac = draw(st.integers(0, 10**places - 1)) if places else 0
    text = str(whole) + (f".{frac:0{places}d}" if places else "")
    if canonical:
        return text
    return draw(
        st.sampled_from(
            [
                text,
                "-" + text,
                "00" + text,
                text + "e3",
                "1E-7",
                " " + text,
                text + "\t",
                "1_000",
                "NaN",
                "-Infinity",
                "-0",
                "١٢",
                "abc",
                "",
            ]
        )
    )


DECIMALS = (
    decimal_texts()
    | st.integers(-(10**16), 10**16)
    | st.floats().filter(lambda f: f == f and abs(f) != float("inf")).map(lambda f: f)
    | JSON_SCALARS
)
VERSIONS = st.one_of(
    st.integers(-5, 10**18 + 5),
    st.sampled_from([0, 10**18 - 1, 10**18, 2**63 - 1, True, False, 1.0, 2.5]),
    st.integers(0, 10**20).map(str),
    st.sampled_from(["0042", " 7", "7 ", "١٢", "", "v1", "-3"]),
    timestamps(),
    JSON_SCALARS,
)
CURRENCIES = st.sampled_from(
    ["CNY", "USD", "cny", "Usd", " CNY", "CNY ", "XXX", "ABC", "EURO", "", "ſek", "ı"]
) | st.text(CHARS, max_size=4)


def deep(levels: int) -> dict[str, Any]:
    """A dict nested ``levels`` deep."""
    value: dict[str, Any] = {"leaf": 1.5e300}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


ATTRIBUTES = st.one_of(
    st.dictionaries(st.text(CHARS, max_size=6), JSON_VALUES, max_size=4),
    st.integers(14, 18).map(deep),
    st.just({"big": "x" * (64 * 1024)}),
    st.just({"f": [1e15, 1e16, 1e-7, 0.1, 100.0, 1e20, -0.0]}),
    JSON_VALUES,
)

# A value for a field by what kind of field it is (the model's own types, then anything).
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event_id": IDS,
    "rep_id": IDS,
    "customer_id": IDS,
    "entity_id": IDS,
    "invoice_id": IDS,
    "source": IDS,
    "product_line": IDS,
    "course": IDS,
    "severity": IDS,
    "type": st.sampled_from([*TYPE_FIELDS, "Visit", " visit", "call"]) | JSON_SCALARS,
    "occurred_at": TIMES,
    "closed_at": TIMES,
    "paid_at": TIMES,
    "opened_at": TIMES,
    "first_response_at": TIMES,
    "resolved_at": TIMES,
    "due_date": st.sampled_from(["2026-11-30", "2026-02-30", "2026-11-30T00:00:00", "20261130"])
    | JSON_SCALARS,
    "version": VERSIONS,
    "deleted": st.sampled_from([True, False, None, "true", 1, 0, "yes"]),
    "backfill": st.sampled_from([True, False, None, "false", 1]),
    "passed": st.sampled_from([True, False, None, "no"]),
    "is_new_customer": st.sampled_from([True, False, None, 1]),
    "amount": DECIMALS,
    "duration_min": DECIMALS,
    "margin": DECIMALS,
    "amount_due": DECIMALS,
    "amount_paid": DECIMALS,
    "score": DECIMALS | st.integers(-1, 101),
    "nps": st.integers(-2, 12) | st.sampled_from([True, 5.0, "5"]),
    "currency": CURRENCIES,
    "channel": st.sampled_from(["onsite", "phone", "video", "Onsite", "email", ""]),
    "status": st.sampled_from(["sent", "accepted", "rejected", "lost", " sent"]),
    "stage": st.sampled_from(["open", "won", "lost", "closed", None]),
    "attributes": ATTRIBUTES,
}
ALL_FIELDS = sorted(FIELD_VALUES)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event of any type in the common spelling (what the compiled schema takes)."""
    kind = draw(st.sampled_from(sorted(TYPE_FIELDS)))
    ts = timestamps(canonical=True)
    money = decimal_texts(canonical=True) | st.integers(0, 10**12)
    ev: dict[str, Any] = {
        "event_id": draw(SAFE),
        "type": kind,
        "occurred_at": draw(ts),
        "rep_id": draw(SAFE | st.sampled_from(["销售-7", "rep 1"])),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "customer_id": SAFE,
        "entity_id": SAFE,
        "version": st.integers(0, 10**18 - 1) | st.integers(0, 10**18 - 1).map(str) | ts,
        "deleted": st.booleans(),
        "amount": money | st.integers(0, 10**9).map(lambda n: n / 100),
        "currency": st.sampled_from(["CNY", "USD", "eur", None]),
        "backfill": st.booleans() | st.none(),
        "attributes": st.dictionaries(
            st.text(TEXT_CHARS, max_size=6).filter(lambda k: k.strip() == k),
            CLEAN_VALUES,
            max_size=3,
        ),
    }
    own: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "visit": {
            "channel": st.sampled_from(["onsite", "phone", "video"]),
            "duration_min": money,
        },
        "lead": {"is_new_customer": st.booleans(), "source": SAFE},
        "quote": {"status": st.sampled_from(["sent", "accepted", "rejected"])},
        "deal": {
            "is_new_customer": st.booleans(),
            "closed_at": ts,
            "margin": money | st.just("-120.50"),
            "product_line": SAFE,
        },
        "payment": {
            "invoice_id": SAFE,
            "amount_due": money,
            "due_date": st.dates().map(lambda d: f"{d:%Y-%m-%d}").filter(lambda t: len(t) == 10),
            "amount_paid": money,
            "paid_at": ts,
        },
        "complaint": {
            "severity": st.sampled_from(["low", "high"]),
            "opened_at": ts,
            "first_response_at": ts,
            "resolved_at": ts,
        },
        "training": {
            "course": SAFE,
            "passed": st.booleans(),
            "score": st.integers(0, 100) | money,
        },
        "survey": {"score": st.sampled_from(["1", "4.5", "5", 3]), "nps": st.integers(0, 10)},
    }
    for name, values in {**optional, **own[kind]}.items():
        if draw(st.booleans()):
            ev[name] = draw(values)
    if kind == "deal":
        ev["stage"] = draw(st.sampled_from(["open", "won", "lost"]))
    if draw(st.integers(0, 3)) == 0:
        ev[draw(st.sampled_from(["region", "crm_owner", "事业部"]))] = draw(CLEAN_VALUES)
    return ev


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A valid event with one to three things changed (or, rarely, not an object)."""
    ev = draw(valid_events())
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["set", "set", "set", "drop", "unknown", "foreign"]))
        if what == "set":
            name = draw(st.sampled_from(ALL_FIELDS))
            ev[name] = draw(FIELD_VALUES[name] | JSON_SCALARS)
        elif what == "drop" and ev:
            ev.pop(draw(st.sampled_from(sorted(ev))))
        elif what == "unknown":
            ev[draw(st.text(CHARS, min_size=1, max_size=6))] = draw(JSON_VALUES)
        else:
            ev[draw(st.sampled_from(sorted(set().union(*TYPE_FIELDS.values()))))] = draw(
                st.none() | FIELD_VALUES["amount"]
            )
    if draw(st.integers(0, 30)) == 0:
        return draw(JSON_VALUES)
    return ev


def _item(raw: Any) -> _Item:
    """The item ``POST /v1/events`` makes of one event sent as a JSON array."""
    (item,) = parse_body(orjson.dumps([raw]), "application/json", max_events=10)
    return item


def _assert_same_answer(raw: Any, locale: str) -> bool:
    """check_item and validate_item agree on ``raw``; whether it was accepted."""
    item = _item(raw)
    event, result = check_item(item, now=NOW, latest=LATEST, locale=locale)
    model, expected = validate_item(item, now=NOW, locale=locale)
    assert orjson.dumps(result) == orjson.dumps(expected.model_dump())
    if model is None:
        assert event is None
        return False
    assert event is not None
    assert (event.event_id, event.type, event.record_id) == (
        model.event_id,
        model.type,
        model.record_id,
    )
    assert event.json.decode() == model.model_dump_json(exclude_none=True)
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mutated_events(), locale=st.sampled_from(["en", "zh-CN"]))
def test_mutated_events_get_the_models_answer(raw: Any, locale: str) -> None:
    _assert_same_answer(raw, locale)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=valid_events(), locale=st.sampled_from(["en", "zh-CN"]))
def test_valid_events_take_the_compiled_path_with_the_models_bytes(
    raw: dict[str, Any], locale: str
) -> None:
    raw = orjson.loads(orjson.dumps(raw))
    assert _assert_same_answer(raw, locale)
    # The common spelling never needs the model: that is the point of the compiled path.
    event = compiled_event(raw, latest=LATEST)
    assert event is not None
    # What the log carries decodes (as scoring decodes it) to the model's event.
    envelope = Envelope.model_validate_json(
        envelope_head(tenant_id="t1", source="api", received_at=NOW, request_id="r1")
        + event.json
        + b"}"
    )
    data, unknown = split_unknown_fields(raw)
    assert envelope.event == CanonicalEvent.model_validate(data)
    assert event.unknown == unknown


@pytest.mark.parametrize(
    ("change", "compiled_takes_it"),
    [
        ({}, True),
        ({"occurred_at": "2026-11-02T09:00:00.5+00:00"}, True),  # written .500000Z
        ({"amount": "00012.50"}, True),  # written 12.50
        ({"currency": "cny"}, True),  # written CNY
        ({"version": "0042"}, True),  # written 42
        ({"region": "north"}, True),  # moved to attributes, with a warning
        ({"occurred_at": "2026-11-02 09:00:00+08:00"}, False),  # the model reads it
        ({"rep_id": " r1 "}, False),  # the model strips it
        ({"deleted": "true"}, False),  # the model coerces it
        ({"stage": None}, False),  # a foreign field, even null: the model decides
        ({"occurred_at": "2099-01-01T00:00:00Z"}, False),  # too far ahead: refused
        ({"amount": "-5", "type": "payment", "amount_paid": "-1"}, False),
    ],
)
def test_which_spellings_the_compiled_path_takes(
    change: dict[str, Any], compiled_takes_it: bool
) -> None:
    raw = {
        "event_id": "e1",
        "type": "visit",
        "occurred_at": "2026-11-02T09:00:00+08:00",
        "rep_id": "r1",
        "amount": "1200.00",
    } | change
    assert (compiled_event(raw, latest=LATEST) is not None) is compiled_takes_it
    _assert_same_answer(raw, "en")


@given(
    decimal_texts()
    | st.from_regex(r"[0-9]{1,17}(\.[0-9]{0,12})?", fullmatch=True)
    # the limits: 15 and 16 whole digits, 10 and 11 places
    | st.from_regex(r"[1-9][0-9]{14,15}(\.[0-9]{1,10})?", fullmatch=True)
    | st.from_regex(r"[1-9][0-9]{0,3}\.[0-9]{10,11}", fullmatch=True)
)
@example("999999999999999.9999999999")  # the largest plain text
@example("1000000000000000")  # 10^15: over the limit
@example("1.00000000001")  # 11 places: over the limit
@example("0.0000001")  # written 1E-7 by Decimal
def test_decimal_text_kept_as_written_is_what_the_model_writes(text: str) -> None:
    """The short path (no Decimal built) takes only text the model keeps as it is: valid,
    positive, and written back unchanged (never with an exponent)."""
    if compiled._PLAIN_DECIMAL(text):
        number = checked_decimal(text)
        assert number is not None
        assert number > 0
        assert str(number) == text


def test_the_structs_mirror_the_model() -> None:
    """Each type's struct has the common fields and the type's own, in the model's order
    (the order the model writes them), and every field of the model has a struct type."""
    assert set(compiled._TYPES) == set(CanonicalEvent.model_fields)
    assert set(compiled._SPECS) == set(TYPE_FIELDS)
    for kind, spec in compiled._SPECS.items():
        own = COMMON_FIELDS | TYPE_FIELDS[kind]
        assert list(spec.struct.__struct_fields__) == [
            n for n in CanonicalEvent.model_fields if n in own
        ]


def test_an_event_dated_just_inside_the_limit_is_taken() -> None:
    at = LATEST - timedelta(seconds=1)
    raw = {"event_id": "e", "type": "visit", "occurred_at": at.isoformat(), "rep_id": "r"}
    assert compiled_event(raw, latest=LATEST) is not None
    raw["occurred_at"] = (LATEST + timedelta(seconds=1)).isoformat()
    assert compiled_event(raw, latest=LATEST) is None
    assert not _assert_same_answer(raw, "en")
