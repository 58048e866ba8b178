"""Pure parts of the connectors: vendor times, snapshots (newest value per field), mapping."""

from __future__ import annotations

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
    assert "'paused'" in unknown.reason
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
