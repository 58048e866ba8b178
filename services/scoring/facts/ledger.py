"""What a batch writes, with knowledge times and month closes applied (pure, no I/O).

A record's events are applied in log order; each event is one **step**: the record's
contributions before and after it. A step's net change per fact row is

* added to the fact tables (the sum of all changes: what reads see today);
* kept in the change log stamped with the knowledge time (what as-of reads subtract);
* routed through the tenant's closes (:mod:`paceline.shared.kpi.closes`): a change to a
  closed month is booked to the first open month (``adjust``), or counted in place and
  listed (``restate``); each routed change is listed as an adjustment with its cause.

Knowledge times never go back for one record: ``known = max(received_at, the record's
previous known_at)``. The log keeps one record's events in receipt order (one partition,
one ingest request at a time), so this only matters when two ingest processes race within
moments; it keeps every as-of read a fold of a prefix of the record's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from paceline.shared.events import CanonicalEvent
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.closes import CloseBook
from paceline.shared.kpi.records import (
    Contribution,
    FactDelta,
    Issue,
    RecordState,
    TenantContext,
    contributions,
    fold,
)

ChangeKey = tuple[str, int, str, date, datetime]
MemberChangeKey = tuple[str, int, str, date, str, datetime]


@dataclass(frozen=True, slots=True)
class Applied:
    """One event to apply: its row id, content, receipt time and origin."""

    pk: int
    event: CanonicalEvent
    received_at: datetime
    source: str


@dataclass(slots=True)
class Ledger:
    """A tenant's writes of one batch (or one rebuild page)."""

    tenant_id: str
    closes: CloseBook
    facts: FactDelta = field(default_factory=FactDelta)
    changes: dict[ChangeKey, list[int]] = field(default_factory=dict)
    member_changes: dict[MemberChangeKey, int] = field(default_factory=dict)
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    def step(
        self,
        *,
        record: tuple[str, str],
        known: datetime,
        old: Sequence[Contribution],
        new: Sequence[Contribution],
        cause: Applied,
    ) -> None:
        """Book one record's change from ``old`` to ``new`` contributions, known at ``known``."""
        delta = FactDelta()
        delta.replace(old, new)
        closes = self.closes
        for (kpi, m, rep, day), (units, n) in delta.facts.items():
            if units == 0 and n == 0:
                continue
            if closes:
                route = closes.route(day, known)
                if route.kind != "own":
                    self._list(
                        route.kind, kpi, m, rep, day, route, None, units, n, known, record, cause
                    )
                    day = route.day
            cur = self.facts.facts.setdefault((kpi, m, rep, day), [0, 0])
            cur[0] += units
            cur[1] += n
            ch = self.changes.setdefault((kpi, m, rep, day, known), [0, 0])
            ch[0] += units
            ch[1] += n
        for (kpi, m, rep, day, member), n in delta.members.items():
            if n == 0:
                continue
            if closes:
                route = closes.route(day, known)
                if route.kind == "adjust":
                    # A distinct member does not add across days: listed, counted nowhere.
                    self._list(
                        "frozen", kpi, m, rep, day, route, member, 0, n, known, record, cause
                    )
                    continue
                if route.kind == "restate":
                    self._list(
                        "restate", kpi, m, rep, day, route, member, 0, n, known, record, cause
                    )
            mk = (kpi, m, rep, day, member)
            self.facts.members[mk] = self.facts.members.get(mk, 0) + n
            key = (kpi, m, rep, day, member, known)
            self.member_changes[key] = self.member_changes.get(key, 0) + n

    def _list(
        self,
        kind: str,
        kpi: str,
        measure: int,
        rep: str,
        day: date,
        route: Any,
        member: str | None,
        units: int,
        n: int,
        known: datetime,
        record: tuple[str, str],
        cause: Applied,
    ) -> None:
        booked = route.day if kind == "adjust" else (day if kind == "restate" else None)
        self.adjustments.append(
            {
                "tenant_id": self.tenant_id,
                "kind": kind,
                "kpi": kpi,
                "measure": measure,
                "rep_id": rep,
                "source_day": day,
                "source_period": route.source_period,
                "booked_day": booked,
                "booked_period": route.booked_period
                if kind == "adjust"
                else (route.source_period if kind == "restate" else None),
                "member": member,
                "value": units,
                "n": n,
                "known_at": known,
                "record_type": record[0],
                "record_id": record[1],
                "event_id": cause.event.event_id,
                "source": cause.source,
            }
        )

    def change_rows(self) -> list[dict[str, Any]]:
        """The change-log rows (nonzero), in key order."""
        return [
            {
                "tenant_id": self.tenant_id,
                "kpi": k,
                "measure": m,
                "rep_id": r,
                "day": d,
                "known_at": t,
                "value": v[0],
                "n": v[1],
            }
            for (k, m, r, d, t), v in sorted(self.changes.items())
            if v[0] != 0 or v[1] != 0
        ]

    def member_change_rows(self) -> list[dict[str, Any]]:
        """The member change-log rows (nonzero), in key order."""
        return [
            {
                "tenant_id": self.tenant_id,
                "kpi": k,
                "measure": m,
                "rep_id": r,
                "day": d,
                "member": mem,
                "known_at": t,
                "n": n,
            }
            for (k, m, r, d, mem, t), n in sorted(self.member_changes.items())
            if n != 0
        ]


@dataclass(slots=True)
class Folded:
    """A record after applying events: state, winning event, knowledge time, contributions."""

    state: RecordState | None
    event_pk: int
    known_at: datetime | None
    contributions: list[Contribution]
    issues: list[Issue]


def apply_events(
    ledger: Ledger,
    *,
    record: tuple[str, str],
    state: RecordState | None,
    event_pk: int,
    known_at: datetime | None,
    current: list[Contribution],
    events: Iterable[Applied],
    kpis: Sequence[KpiDefinition],
    ctx: TenantContext,
) -> Folded:
    """Fold a record's new events (log order), booking one step per event."""
    issues: list[Issue] = []
    for item in events:
        known = item.received_at if known_at is None else max(item.received_at, known_at)
        before = state.rank if state is not None else None
        state = fold(state, item.event)
        if before is None or state.rank != before:
            event_pk = item.pk
        known_at = known
        new, issues = contributions(state, kpis, ctx)
        ledger.step(record=record, known=known, old=current, new=new, cause=item)
        current = new
    return Folded(state, event_pk, known_at, current, issues)
