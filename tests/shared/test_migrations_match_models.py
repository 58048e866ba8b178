"""The migrations build exactly the schema the models declare (so a moved or renamed
model module cannot drift from the database)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import paceline.migrations.models  # noqa: F401  # every model module, as Alembic sees them
from paceline.shared.db.base import Base
from paceline.shared.db.migrate import upgrade


def test_migrated_sqlite_equals_the_models(tmp_path: Path) -> None:
    path = tmp_path / "schema.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
