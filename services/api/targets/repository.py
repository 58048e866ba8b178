"""Writes of targets and their versions: the one place a target is created or revised.

Reads (the version in force at an instant, searches) are the read model's
(:mod:`paceline.shared.readmodel.targets`). A target row keeps ``current_version``; every
value it ever had is a :class:`TargetVersion` row, written only by :func:`add_version`,
so the targets API, the decomposition and the demo record versions the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Target, TargetVersion
from paceline.shared.kpi.periods import Period


@dataclass(frozen=True, slots=True)
class TargetValues:
    """A version's numbers: the target, and the baseline and stretch around it."""

    target: Decimal
    baseline: Decimal | None = None
    stretch: Decimal | None = None


def as_text(value: Decimal | None) -> str | None:
    """A value as stored: plain notation, no trailing zeros (``1.5E+5`` -> ``150000``)."""
    return None if value is None else format(value.normalize(), "f")


def new_target(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpi: str,
    scope: str,
    period: Period,
    parent_id: int | None,
    author: str,
    now: datetime,
) -> Target:
    """A new target row (no version yet: give it one with :func:`add_version` once the
    session has flushed it and it has an id)."""
    row = Target(
        tenant_id=tenant_id,
        kpi=kpi,
        scope=scope,
        period=period.key,
        period_kind=period.kind,
        start=period.start,
        end=period.end,
        parent_id=parent_id,
        current_version=0,
        created_at=now,
        created_by=author,
    )
    session.add(row)
    return row


def add_version(
    session: AsyncSession,
    *,
    row: Target,
    values: TargetValues,
    author: str,
    reason: str | None,
    now: datetime,
) -> TargetVersion:
    """Record ``values`` as the target's next version (1 for a new target)."""
    assert row.id is not None, "flush the new target before giving it a version"
    row.current_version += 1
    version = TargetVersion(
        target_id=row.id,
        version=row.current_version,
        tenant_id=row.tenant_id,
        target=as_text(values.target),
        baseline=as_text(values.baseline),
        stretch=as_text(values.stretch),
        recorded_at=now,
        author=author,
        reason=reason,
    )
    session.add(version)
    return version
