"""The ingest hot path's envelope encoder writes exactly what the Envelope model would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from paceline.shared.events import CanonicalEvent, Envelope, envelope_encoder
from tests.strategies import event_dicts


@settings(max_examples=200, deadline=None)
@given(
    raw=st.integers(0, 50).flatmap(lambda i: event_dicts(index=i)),
    tenant=st.text(min_size=1, max_size=20),
    source=st.sampled_from(["api", "hubspot", "x.y-z"]),
    request_id=st.none() | st.text(max_size=40),
    micros=st.integers(0, 10**6 - 1),
    offset_h=st.integers(-12, 14),
)
def test_encoder_bytes_equal_the_model_dump(
    raw: dict[str, Any],
    tenant: str,
    source: str,
    request_id: str | None,
    micros: int,
    offset_h: int,
) -> None:
    event = CanonicalEvent.model_validate(raw)
    received = datetime(2026, 11, 26, 9, 30, tzinfo=timezone(timedelta(hours=offset_h)))
    received = received.replace(microsecond=micros)
    expected = Envelope(
        tenant_id=tenant,
        source=source,
        received_at=received,
        request_id=request_id,
        event=event,
    ).model_dump_json(exclude_none=True)
    encode = envelope_encoder(
        tenant_id=tenant, source=source, received_at=received, request_id=request_id
    )
    got = encode(event)
    assert got.decode() == expected
    assert Envelope.model_validate_json(got).event == event


def test_utc_instant_round_trips() -> None:
    event = CanonicalEvent.model_validate(
        {
            "event_id": "e1",
            "type": "visit",
            "occurred_at": "2026-11-26T10:00:00+08:00",
            "rep_id": "r1",
        }
    )
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    got = envelope_encoder(tenant_id="t", source="api", received_at=now, request_id=None)(event)
    parsed = Envelope.model_validate_json(got)
    assert parsed.received_at == now
    assert parsed.request_id is None
    assert parsed.tenant_id == "t"
