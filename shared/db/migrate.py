"""Run the Alembic migrations programmatically (``paceline migrate`` and start-up)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from paceline.shared.files import private_sqlite


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    cfg = Config()
    location = resources.files("paceline.migrations")
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Migrate the database to a revision (blocking; call outside the event loop).

    ``heads``: every branch of the revision graph (features developed side by side add
    their tables on branches that are merged later).
    """
    private_sqlite(url)  # mode 0600 before SQLite creates the file with the umask's
    command.upgrade(alembic_config(url), revision)
