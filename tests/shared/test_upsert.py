"""The one dialect switch for upserts."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from paceline.shared.db.models import FxRate
from paceline.shared.db.upsert import insert_of


def test_each_database_gets_its_own_on_conflict_insert() -> None:
    pg = insert_of("postgresql", FxRate).on_conflict_do_nothing(
        index_elements=["tenant_id", "currency", "day"]
    )
    lite = insert_of("sqlite", FxRate).on_conflict_do_nothing(
        index_elements=["tenant_id", "currency", "day"]
    )
    assert isinstance(pg, postgresql.Insert)
    assert isinstance(lite, sqlite.Insert)
    assert "ON CONFLICT (tenant_id, currency, day) DO NOTHING" in str(
        pg.compile(dialect=postgresql.dialect())
    )
    assert "ON CONFLICT (tenant_id, currency, day) DO NOTHING" in str(
        lite.compile(dialect=sqlite.dialect())
    )


def test_an_unknown_database_is_refused() -> None:
    with pytest.raises(ValueError, match="mysql"):
        insert_of("mysql", FxRate)
