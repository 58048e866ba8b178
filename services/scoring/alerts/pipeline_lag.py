"""The pipeline-lag probe: how far scoring is behind the event log, and whether it moves.

Each tick compares the log's end offsets with the positions scoring stored (in the
database, with the facts): the sum of the differences is the lag in records. Scoring is
*stuck* when it is behind and its stored positions have not changed for
:data:`STUCK_AFTER` (measured on the clock the probe is given the time of). The
``pipeline_lag`` flag itself is raised and resolved by
:func:`.quality.check_pipeline_lag`, per tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from paceline.scoring.alerts import repository as repo
from paceline.shared.db.session import Database
from paceline.shared.eventlog import EventLog

STUCK_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class PipelineLag:
    """Records in the log that scoring has not applied, and whether it stopped advancing."""

    records: int
    stuck: bool


class PipelineLagProbe:
    """Measures scoring's lag behind the event log (remembering the last positions seen)."""

    def __init__(self, *, db: Database, eventlog: EventLog, group_id: str) -> None:
        self.db = db
        self.eventlog = eventlog
        self.group_id = group_id
        self._positions: tuple[dict[int, int], datetime] | None = None

    async def measure(self, now: datetime) -> PipelineLag | None:
        """The lag at ``now``; None when the log cannot be asked (it is down)."""
        try:
            ends = await self.eventlog.end_offsets()
        except Exception:  # the log is down: its own alerts and readiness say so
            return None
        async with self.db.transaction(write=False) as session:
            stored = await repo.scoring_positions(
                session, group_id=self.group_id, topic=self.eventlog.topic
            )
        records = sum(max(0, end - stored.get(p, 0)) for p, end in ends.items())
        return PipelineLag(records=records, stuck=self._stuck(stored, records, now))

    def _stuck(self, stored: dict[int, int], records: int, now: datetime) -> bool:
        """Whether the positions stood still, with records behind, for STUCK_AFTER."""
        if self._positions is not None:
            before, since = self._positions
            if before == stored and records > 0:
                return now - since >= STUCK_AFTER
        self._positions = (stored, now)
        return False
