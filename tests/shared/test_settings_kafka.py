"""The scoring consumer's group settings (docs/OPERATIONS.md, "Rebalances and stalls")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paceline.shared.runtime import make_eventlog
from paceline.shared.settings import Settings


def test_consumer_group_timings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().kafka_session_timeout_ms == 6_000
    assert Settings().kafka_heartbeat_interval_ms == 1_000
    monkeypatch.setenv("PACELINE_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    monkeypatch.setenv("PACELINE_KAFKA_SESSION_TIMEOUT_MS", "9000")
    monkeypatch.setenv("PACELINE_KAFKA_HEARTBEAT_INTERVAL_MS", "1500")
    log = make_eventlog(Settings())
    assert getattr(log, "session_timeout_ms", None) == 9_000
    assert getattr(log, "heartbeat_interval_ms", None) == 1_500


@pytest.mark.parametrize(("session", "heartbeat"), [(6_000, 6_000), (6_000, 9_000)])
def test_a_heartbeat_not_below_the_session_timeout_is_refused(session: int, heartbeat: int) -> None:
    with pytest.raises(ValidationError, match="HEARTBEAT_INTERVAL_MS must be below"):
        Settings(kafka_session_timeout_ms=session, kafka_heartbeat_interval_ms=heartbeat)
