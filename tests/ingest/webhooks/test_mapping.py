"""Pure parts of the connectors: vendor times, snapshots (newest value per field), mapping."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from paceline.ingest.webhooks.mapping import Failed, Mapped, Mapping, Skipped, map_record
from paceline.ingest.webhooks.vendor_records import Snapshot, VendorRecord, parse_time, us_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1795140000000", "2026-11-20T02:00:00+00:00"),  # HubSpot epoch milliseconds
        (1795140000, "2026-11-20T02:00:00+00:00"),  # epoch seconds
        ("2026-11-20T02:00:00.000Z", "2026-11-20T02:00:00+00:00"),  # Salesforce
        ("2026-11-20T10:00:00+08:00", "2026-11-20T10:00:00+08:00"),  # Zoho
        ("2026-11-20 02:00:00", "2026-11-20T02:00:00+00:00"),  # Pipedrive v1 (UTC)
        ("2026-11-20", "2026-11-20T12:00:00+00:00"),  # a date alone: noon UTC
        (None, None),
        ("", None),
    ],
)
def test_vendor_times(value: Any, expected: str | None) -> None:
    parsed = parse_time(value)
    assert (parsed.isoformat() if parsed else None) == expected


def test_a_late_older_change_never_overwrites_a_newer_one() -> None:
    t1 = us_of(datetime(2026, 11, 1, tzinfo=UTC))
    t2 = us_of(datetime(2026, 11, 2, tzinfo=UTC))
    snap = Snapshot()
    snap.merge(VendorRecord("deal", "1", "e2", t2, fields={"amount": "200"}, partial=True))
    snap.merge(VendorRecord("deal", "1", "e1", t1, fields={"amount": "100", "owner": "7"}))
    assert snap.values() == {"amount": "200", "owner": "7"}
    assert snap.version_us == t2
    snap.merge(VendorRecord("deal", "1", "e3", t1, deleted=True))  # older than what is known
    assert snap.deleted is False
    snap.merge(VendorRecord("deal", "1", "e4", t2 + 1, deleted=True))
    assert snap.deleted is True
    assert snap.version_us == t2 + 1


MAPPING = Mapping.model_validate(
    {
        "objects": {
            "deal": {
                "type": "deal",
                "fields": {"rep_id": "owner", "stage": "stage", "amount": "amount"},
                "values": {"stage": {"open": ["new"], "won": ["signed"], "lost": ["gone"]}},
            },
            "activity": {
                "type": "visit",
                "fields": {"rep_id": "owner", "channel": "kind"},
                "values": {"channel": {"onsite": ["meeting"], "phone": ["call"]}},
                "unmatched": {"channel": "skip"},
            },
        },
        "owners": {"7": "r-7"},
    }
)


def mapped(object_type: str, fields: dict[str, Any], *, partial: bool = False) -> Any:
    """Map one record from an empty snapshot."""
    record = VendorRecord(object_type, "1", "e1", 1_000_000, fields=fields, partial=partial)
    snap = Snapshot()
    snap.merge(record)
    return map_record(record, snap, objmap=MAPPING.objects[object_type], mapping=MAPPING)


def test_mapping_outcomes() -> None:
    won = mapped("deal", {"owner": 7, "stage": "signed", "amount": 12.5})
    assert isinstance(won, Mapped)
    assert (won.event["rep_id"], won.event["stage"], won.event["amount"]) == ("r-7", "won", "12.5")
    unknown = mapped("deal", {"owner": "7", "stage": "paused"})
    assert isinstance(unknown, Failed)
    assert unknown.code == "unknown_value"
    assert "'paused'" in str(unknown.reason)
    no_owner = mapped("deal", {"stage": "signed"})
    assert isinstance(no_owner, Failed)
    assert no_owner.code == "no_owner"
    waiting = mapped("deal", {"stage": "signed"}, partial=True)
    assert isinstance(waiting, Failed)
    assert waiting.code == "incomplete"
    passthrough = mapped("deal", {"owner": "9", "stage": "new"})
    assert isinstance(passthrough, Mapped)
    assert passthrough.event["rep_id"] == "9"
    assert isinstance(mapped("activity", {"owner": "7", "kind": "email"}), Skipped)
    call = mapped("activity", {"owner": "7", "kind": "call"})
    assert isinstance(call, Mapped)
    assert call.event["channel"] == "phone"


# -- value transforms (issue 16, item 3) ------------------------------------------------------

TRANSFORMS = Mapping.model_validate(
    {
        "objects": {
            "deal": {
                "type": "deal",
                "fields": {
                    "rep_id": "owner",
                    "stage": {"path": "stage", "map": {"赢单": "won", "输单": "lost"}},
                    "amount": {"path": "amount", "divide": "100"},
                    "margin": {"path": "margin", "multiply": "0.5"},
                    "closed_at": {
                        "path": "closed",
                        "format": "%Y-%m-%d %H:%M",
                        "tz": "Asia/Shanghai",
                    },
                    "occurred_at": {"path": "created", "epoch": "ms"},
                    "currency": {"const": "CNY"},
                    "product_line": {"path": "line", "map": {"A": "软件"}},
                },
            }
        }
    }
)


def _deal(fields: dict[str, Any]) -> Mapped | Skipped | Failed:
    snap = Snapshot()
    at = us_of(datetime(2026, 11, 16, tzinfo=UTC))
    record = VendorRecord("deal", "d-1", "e-1", at, fields=fields)
    snap.merge(record)
    return map_record(record, snap, objmap=TRANSFORMS.objects["deal"], mapping=TRANSFORMS)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("1,200,000", "12000"),  # cents with thousands separators, divided by 100
        ("¥1,200,000", "12000"),
        ("120万", "12000"),  # 1,200,000 cents written with 万
        (1200000, "12000"),
        ("0.3亿", "300000"),
    ],
)
def test_numbers_are_read_by_the_one_parser_then_divided(amount: Any, expected: str) -> None:
    outcome = _deal({"owner": "u1", "stage": "赢单", "amount": amount, "margin": "3.5万"})
    assert isinstance(outcome, Mapped), outcome
    assert outcome.event["amount"] == expected
    assert outcome.event["margin"] == "17500"


def test_lookups_formats_zones_epochs_and_constants() -> None:
    outcome = _deal(
        {
            "owner": "u1",
            "stage": "赢单",
            "closed": "2026-11-16 14:30",
            "created": 1794715200000,
            "line": "A",
        }
    )
    assert isinstance(outcome, Mapped), outcome
    event = outcome.event
    assert event["stage"] == "won"
    assert event["closed_at"] == "2026-11-16T14:30:00+08:00"
    assert event["occurred_at"] == "2026-11-15T04:00:00+00:00"
    assert event["currency"] == "CNY"
    assert event["product_line"] == "软件"
    lost = _deal({"owner": "u1", "stage": "输单"})
    assert isinstance(lost, Mapped)
    assert lost.event["stage"] == "lost"


def test_a_value_that_does_not_fit_its_transform_is_quarantined_with_the_field() -> None:
    outcome = _deal({"owner": "u1", "stage": "赢单", "closed": "16/11/2026"})
    assert isinstance(outcome, Failed)
    assert outcome.code == "invalid_event"
    assert "closed_at: '16/11/2026' does not match the format '%Y-%m-%d %H:%M'" in str(
        outcome.reason
    )
    outcome = _deal({"owner": "u1", "stage": "赢单", "amount": "about 5万"})
    assert isinstance(outcome, Failed)
    assert "amount: 'about 5万' is not a number" in str(outcome.reason)


@pytest.mark.parametrize(
    ("spec", "field", "reason"),
    [
        ({"path": "owner", "multiply": "2"}, "rep_id", "multiply applies to numbers only"),
        ({"path": "x", "tz": "Mars/Olympus"}, "closed_at", "'Mars/Olympus' is not an IANA"),
        ({"path": "x", "format": "yyyy-MM-dd"}, "closed_at", "has no strptime directive"),
        ({"path": "x", "format": "%Y"}, "amount", "format applies to times and dates only"),
        ({"path": "x", "const": "y"}, "stage", "give either path or const"),
        ({"path": "x", "divide": "0"}, "amount", "must be a finite, non-zero number"),
    ],
)
def test_transforms_are_checked_when_the_mapping_is_saved(
    spec: dict[str, Any], field: str, reason: str
) -> None:
    fields: dict[str, Any] = {"rep_id": "owner", field: spec}
    with pytest.raises(ValueError, match=re.escape(reason)) as caught:
        Mapping.model_validate({"objects": {"deal": {"type": "deal", "fields": fields}}})
    if "non-zero" not in reason:
        assert f"fields.{field}: " in str(caught.value)
