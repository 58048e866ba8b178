"""Data files are private to Paceline's user (issue 17, hole 5: they were world-readable)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from paceline.shared.files import private_file, private_sqlite
from tests.support import embedded_settings, running_stack


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_file_creates_and_tightens(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        made = tmp_path / "a" / "new.db"
        private_file(made)
        assert (made.exists(), made.stat().st_size, _mode(made)) == (True, 0, 0o600)
        loose = tmp_path / "loose.db"
        loose.write_bytes(b"x")
        (tmp_path / "loose.db-wal").write_bytes(b"")
        loose.chmod(0o644)
        private_sqlite(f"sqlite+aiosqlite:///{loose}")
        assert (_mode(loose), _mode(tmp_path / "loose.db-wal")) == (0o600, 0o600)
        assert loose.read_bytes() == b"x"
        private_sqlite("postgresql+asyncpg://u@h/db")  # nothing to do, no error
    finally:
        os.umask(old)


async def test_an_embedded_stack_keeps_its_files_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        data = tmp_path / "data"
        async with running_stack("embedded", embedded_settings(data)) as s:
            resp = await s.post_events(
                [
                    {
                        "event_id": "v1",
                        "type": "visit",
                        "occurred_at": "2025-03-21T09:00:00+08:00",
                        "rep_id": "r1",
                        "customer_id": "c1",
                    }
                ]
            )
            assert resp.status_code == 202, resp.text
            await s.wait_scored()
            modes = {p.name: _mode(p) for p in sorted(data.iterdir()) if p.is_file()}
    finally:
        os.umask(old)
    assert {"paceline.db", "eventlog.db", "secret.key"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)
