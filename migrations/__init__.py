"""Alembic migrations for SQLite and PostgreSQL; run with ``paceline migrate``."""
