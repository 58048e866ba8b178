"""Secrets at rest are encrypted (and rotatable); audit entries never hold secrets."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from paceline.shared.crypto import SecretBox, secret_box
from paceline.shared.db.audit import REDACTED, redact
from paceline.shared.settings import Settings


def test_secrets_round_trip_and_are_not_stored_in_clear() -> None:
    box = SecretBox(["k" * 40])
    stored = box.encrypt("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    assert "MfKQ9r8" not in stored
    assert box.decrypt(stored) == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert box.encrypt("same") != box.encrypt("same")  # random IV each time


def test_key_rotation_reads_old_values_and_writes_with_the_new_key() -> None:
    old = SecretBox(["old-key" * 6])
    stored = old.encrypt("s3cret")
    rotated = SecretBox(["new-key" * 6, "old-key" * 6])
    assert rotated.decrypt(stored) == "s3cret"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(["new-key" * 6]).decrypt(stored)
    assert SecretBox(["new-key" * 6]).decrypt(rotated.encrypt("x")) == "x"


def test_development_key_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = secret_box(settings).encrypt("v")
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    assert secret_box(settings).decrypt(first) == "v"


def test_processes_starting_together_share_one_development_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with ThreadPoolExecutor(max_workers=8) as pool:
        boxes = list(pool.map(lambda _i: secret_box(settings), range(32)))
    token = boxes[0].encrypt("v")
    assert all(box.decrypt(token) == "v" for box in boxes)
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]  # no leftovers


def test_production_refuses_a_missing_or_short_secret_key() -> None:
    common = {
        "environment": "production",
        "database_url": "postgresql+asyncpg://x/y",
        "kafka_bootstrap": "k:9092",
    }
    with pytest.raises(ValueError, match="PACELINE_SECRET_KEY"):
        Settings(**common)
    with pytest.raises(ValueError, match="PACELINE_SECRET_KEY"):
        Settings(**common, secret_key="short")
    Settings(**common, secret_key="x" * 32)


def test_audit_redacts_secret_looking_keys_at_any_depth() -> None:
    data = {
        "name": "hubspot",
        "signing_secret": "abc",
        "nested": [{"api_key": "k", "ok": 1}],
        "Password": "p",
        "token_url": "https://x",
    }
    out = redact(data)
    assert out["name"] == "hubspot"
    assert out["signing_secret"] == REDACTED
    assert out["nested"] == [{"api_key": REDACTED, "ok": 1}]
    assert out["Password"] == REDACTED
    assert out["token_url"] == REDACTED  # cautious: anything named like a token


def test_audit_values_too_deep_or_too_big_keep_an_outline() -> None:
    from paceline.shared.db.audit import _jsonable

    deep: dict[str, object] = {"leaf": 1}
    for _ in range(400):
        deep = {"x": deep}
    out = _jsonable({"settings": deep, "name": "n"})
    assert out["truncated"] is True
    assert out["keys"] == ["name", "settings"]
    big = _jsonable({"reps": list(range(50_000)), "name": "n"})
    assert big["truncated"] is True
    assert big["outline"] == {"reps": "50000 items", "name": "n"}
    assert _jsonable({"a": [1, 2]}) == {"a": [1, 2]}
