"""URLs of test databases created at the current schema (copies of a migrated template).

The test stacks skip the migrations on them (tests/support.py); the fixtures in
tests/infra.py add and remove them. Migrating takes 1-2 s per database, which for hundreds
of tests was most of the suite's time.
"""

from __future__ import annotations

MIGRATED: set[str] = set()
