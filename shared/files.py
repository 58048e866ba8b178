"""Files Paceline keeps in its data directory are readable by its own user only."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_MODE = 0o600


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing, else set it to 0600.

    SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's
    mode, so a database made private here keeps its journal private too.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_MODE))
    path.chmod(PRIVATE_MODE)
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            sidecar.chmod(PRIVATE_MODE)


def private_sqlite(url: str) -> None:
    """:func:`private_file` for the file of a SQLite URL (other URLs: nothing to do)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        private_file(Path(str(parsed.database)))
