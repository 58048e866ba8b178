"""Record state and fact contributions: how events become per-rep, per-day KPI facts.

A CRM record (a deal, a quote, an invoice...) arrives as a series of events, each one a
state of the record with a ``version``. The scoring service keeps one
:class:`RecordState` per record: the winning version (the highest version seen; on equal
versions the first to arrive) and a compact history of every version seen. A record's
contribution to the facts is a pure function of that state (:func:`contributions`), so
applying a new event is "retract the old contribution, add the new one", and the facts
always equal a from-scratch recomputation over the latest version of every record.

The history matters for days that depend on more than the latest version:

* a deal won without ``closed_at`` counts on the ``occurred_at`` of the version that set
  the stage (the earliest of the latest run of versions in that stage);
* quotes and leads count on the day the record was first seen (its lowest version);
* ``working_day_share`` counts every day on which a version was logged;
* a payment's ``amount_paid`` is the CRM's cumulative amount paid on the invoice (已回款):
  each version books the change since the version before it on its own paid day, so
  earlier instalments stay on the days they were paid (:func:`paid_bookings`).

Nothing here does I/O or reads the clock.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from paceline.shared.events import CanonicalEvent
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.formula import (
    MONEY_FIELDS,
    And,
    Compare,
    Cond,
    In,
    IsNull,
    Measure,
    Not,
    Or,
    Truthy,
)
from paceline.shared.money import SCALE, to_units

FX_MAX_AGE: Final[timedelta] = timedelta(days=31)
_ZERO: Final[Decimal] = Decimal(0)


# -- tenant context ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FxTable:
    """Exchange rates into the tenant currency: per currency, (day, rate) sorted by day.

    The rate for a day is the latest one dated on or before it and at most 31 days old,
    so a monthly or a daily rates table both work.
    """

    rates: Mapping[str, Sequence[tuple[date, Decimal]]] = field(default_factory=dict)

    def rate(self, currency: str, day: date) -> Decimal | None:
        """Units of tenant currency per unit of ``currency`` on ``day``, if known."""
        series = self.rates.get(currency)
        if not series:
            return None
        i = bisect_right(series, (day, Decimal("Infinity"))) - 1
        if i < 0:
            return None
        rate_day, rate = series[i]
        if day - rate_day > FX_MAX_AGE:
            return None
        return rate


@dataclass(frozen=True, slots=True)
class TenantContext:
    """What the KPI code needs to know about a tenant to place and value an event."""

    tenant_id: str
    timezone: ZoneInfo
    currency: str
    fx: FxTable = field(default_factory=FxTable)

    def local_day(self, ts: datetime) -> date:
        """The tenant-local calendar day of an instant."""
        return ts.astimezone(self.timezone).date()


# -- record state ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paid:
    """What a payment version says was paid so far: the cumulative amount, when, in what."""

    amount: Decimal | None
    at: datetime | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class VersionSeen:
    """One version of a record, as much of it as later days may depend on.

    ``paid`` is kept for payment versions only; it is None for other types and for
    payment versions stored before it was kept (those count as they did then).
    """

    rank: str
    occurred_at: datetime
    stage: str | None
    deleted: bool
    paid: Paid | None = None

    @classmethod
    def of(cls, event: CanonicalEvent) -> VersionSeen:
        """The part of an event that the record's history keeps."""
        paid = (
            Paid(event.amount_paid, event.paid_at, event.currency)
            if event.type == "payment"
            else None
        )
        return cls(event.version_rank, event.occurred_at, event.stage, event.deleted, paid)


def _version_to_json(v: VersionSeen) -> list[Any]:
    row: list[Any] = [v.rank, v.occurred_at.isoformat(), v.stage, v.deleted]
    p = v.paid
    if p is not None:
        row += [
            None if p.amount is None else str(p.amount),
            None if p.at is None else p.at.isoformat(),
            p.currency,
        ]
    return row


def _version_from_json(row: Sequence[Any], current: CanonicalEvent) -> VersionSeen:
    rank, occurred, stage, deleted = row[:4]
    if len(row) >= 7:
        amount, at, currency = row[4:7]
        paid: Paid | None = Paid(
            None if amount is None else Decimal(amount),
            None if at is None else datetime.fromisoformat(at),
            currency,
        )
    elif current.type == "payment" and rank == current.version_rank:
        # Stored before payment histories were kept: the winning version is known (it
        # is the current event); older versions stay unknown and are passed over.
        return VersionSeen.of(current)
    else:
        paid = None
    return VersionSeen(rank, datetime.fromisoformat(occurred), stage, bool(deleted), paid)


@dataclass(slots=True)
class RecordState:
    """The winning version of a record and the history of the versions seen."""

    current: CanonicalEvent
    history: list[VersionSeen]

    @property
    def rank(self) -> str:
        """The winning version's rank."""
        return self.current.version_rank

    def to_json(self) -> dict[str, Any]:
        """Serialisable form, stored with the record."""
        return {
            "current": self.current.model_dump(mode="json", exclude_none=True),
            "history": [_version_to_json(v) for v in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordState:
        """Load a stored record state."""
        current = CanonicalEvent.model_validate(data["current"])
        return cls(
            current=current,
            history=[_version_from_json(row, current) for row in data["history"]],
        )


def fold(state: RecordState | None, event: CanonicalEvent) -> RecordState:
    """Apply one more event of a record: a strictly newer version wins; all enter history."""
    seen = VersionSeen.of(event)
    if state is None:
        return RecordState(current=event, history=[seen])
    history = list(state.history)
    ranks = [v.rank for v in history]
    i = bisect_right(ranks, seen.rank)
    if i == 0 or ranks[i - 1] != seen.rank:  # first arrival per rank is kept
        insort(history, seen, key=lambda v: v.rank)
    current = event if event.version_rank > state.rank else state.current
    return RecordState(current=current, history=history)


def created_at(state: RecordState) -> datetime:
    """When the record was first seen: the occurred_at of its lowest version."""
    return state.history[0].occurred_at


def stage_set_at(state: RecordState) -> datetime:
    """The occurred_at of the version that moved the record into its current stage."""
    current_rank = state.rank
    stage = state.current.stage
    upto = [v for v in state.history if v.rank <= current_rank]
    earliest = upto[-1].occurred_at if upto else state.current.occurred_at
    for v in reversed(upto):
        if v.stage != stage or v.deleted:
            break
        earliest = v.occurred_at
    return earliest


# -- contributions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contribution:
    """One record's share of one fact row (or one member of a distinct fact)."""

    kpi: str
    measure: int
    rep_id: str
    day: date
    units: int  # value in 1/SCALE units; 0 for distinct members
    member: str | None = None

    @property
    def key(self) -> tuple[str, int, str, date, str | None]:
        """The fact row (or member row) this contribution lands in."""
        return (self.kpi, self.measure, self.rep_id, self.day, self.member)


@dataclass(frozen=True, slots=True)
class Issue:
    """A data-quality finding made while computing contributions."""

    kind: str
    detail: str


def _attr_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return None  # objects and lists are not comparable scalars


def field_value(event: CanonicalEvent, name: str, ctx: TenantContext) -> Any:
    """A field of an event as formulas see it, derived fields included."""
    if name.startswith("attributes."):
        return _attr_scalar(event.attributes.get(name.removeprefix("attributes.")))
    if name == "response_hours":
        if event.first_response_at is None:
            return None
        start = event.opened_at or event.occurred_at
        return Decimal(int((event.first_response_at - start).total_seconds())) / 3600
    if name == "resolution_hours":
        if event.resolved_at is None:
            return None
        start = event.opened_at or event.occurred_at
        return Decimal(int((event.resolved_at - start).total_seconds())) / 3600
    if name == "days_to_pay":
        if event.paid_at is None or event.due_date is None:
            return None
        return Decimal((ctx.local_day(event.paid_at) - event.due_date).days)
    value = getattr(event, name)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None or right is None:
        both_missing = left is None and right is None
        return op in {"==", ">=", "<="} if both_missing else op == "!="
    if isinstance(left, bool) or isinstance(right, bool):
        if not (isinstance(left, bool) and isinstance(right, bool)):
            return op == "!="
    elif isinstance(left, Decimal) != isinstance(right, Decimal):
        return op == "!="
    try:
        if op == "==":
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == ">":
            return bool(left > right)
        if op == "<":
            return bool(left < right)
        if op == ">=":
            return bool(left >= right)
        return bool(left <= right)
    except TypeError:
        return False


def matches(cond: Cond | None, event: CanonicalEvent, ctx: TenantContext) -> bool:
    """Whether an event satisfies a formula condition."""
    if cond is None:
        return True
    if isinstance(cond, Compare):
        return _compare(field_value(event, cond.field, ctx), cond.op, cond.value)
    if isinstance(cond, In):
        value = field_value(event, cond.field, ctx)
        return any(_compare(value, "==", v) for v in cond.values)
    if isinstance(cond, IsNull):
        return (field_value(event, cond.field, ctx) is None) != cond.negated
    if isinstance(cond, Truthy):
        return bool(field_value(event, cond.field, ctx))
    if isinstance(cond, And):
        return all(matches(p, event, ctx) for p in cond.parts)
    if isinstance(cond, Or):
        return any(matches(p, event, ctx) for p in cond.parts)
    if isinstance(cond, Not):
        return not matches(cond.part, event, ctx)
    raise TypeError(f"unknown condition {cond!r}")  # pragma: no cover


def default_day(state: RecordState, ctx: TenantContext) -> date:
    """The day a record counts on when the formula does not say ``by``."""
    ev = state.current
    if ev.type == "deal":
        if ev.stage in {"won", "lost"}:
            return ctx.local_day(ev.closed_at or stage_set_at(state))
        return ctx.local_day(created_at(state))
    if ev.type in {"lead", "quote"}:
        return ctx.local_day(created_at(state))
    if ev.type == "payment":
        return ctx.local_day(ev.paid_at or ev.occurred_at)
    if ev.type == "complaint":
        return ctx.local_day(ev.opened_at or created_at(state))
    return ctx.local_day(ev.occurred_at)


def _measure_day(m: Measure, state: RecordState, ctx: TenantContext) -> date | None:
    if m.by is None:
        return default_day(state, ctx)
    value = field_value(state.current, m.by, ctx)
    if value is None:
        return None
    if isinstance(value, datetime):
        return ctx.local_day(value)
    if isinstance(value, date):
        return value
    return None  # pragma: no cover - 'by' is checked to be a date field at parse time


def _in_tenant_currency(
    amount: Decimal, currency: str, day: date, ctx: TenantContext, issues: list[Issue]
) -> Decimal | None:
    if currency == ctx.currency:
        return amount
    rate = ctx.fx.rate(currency, day)
    if rate is None:
        issues.append(Issue("missing_fx_rate", f"{currency}->{ctx.currency} on {day.isoformat()}"))
        return None
    return amount * rate


def paid_bookings(
    state: RecordState, ctx: TenantContext
) -> tuple[list[tuple[date, int]], list[Issue]]:
    """A payment record's ``amount_paid`` as (day, units) bookings: each change on its day.

    ``amount_paid`` is cumulative per record. Walking the versions in rank order (deleted
    ones and versions stored without payment data are passed over; a missing amount is
    0), each version books its amount minus the previous version's, converted at the
    rate of its own day (the tenant-local day of its ``paid_at``, else ``occurred_at``).
    The bookings of one day are added up; a day where they cancel out is left out,
    except the current version's day when it states an amount: a record counts on its
    current paid day (with one version, this is what the plain path books). A change
    without a rate is not counted (an issue says so); the next version books only its
    own change.
    The caller has checked that the current version is not deleted.
    """
    issues: list[Issue] = []
    by_day: dict[date, Decimal] = {}
    current_rank = state.rank
    current_day: date | None = None
    prev = _ZERO
    prev_currency = ctx.currency
    for v in state.history:
        p = v.paid
        if p is None or v.deleted:
            continue
        amount = p.amount if p.amount is not None else _ZERO
        currency = p.currency or ctx.currency
        is_current = v.rank == current_rank
        if amount == prev and currency == prev_currency and not is_current:
            continue
        day = ctx.local_day(p.at or v.occurred_at)
        change: Decimal | None
        if currency == prev_currency and amount == prev:
            change = _ZERO  # no rate needed to book nothing
        elif currency == prev_currency or not prev:
            change = _in_tenant_currency(amount - prev, currency, day, ctx, issues)
        else:  # the currency changed: the old amount back out, the new one in, both today
            new = _in_tenant_currency(amount, currency, day, ctx, issues)
            old = _in_tenant_currency(prev, prev_currency, day, ctx, issues)
            change = None if new is None or old is None else new - old
        prev, prev_currency = amount, currency
        if change is None:
            continue
        by_day[day] = by_day.get(day, _ZERO) + change
        if is_current and p.amount is not None:
            current_day = day
    out = []
    for day in sorted(by_day):
        units = to_units(by_day[day])
        if units or day == current_day:
            out.append((day, units))
    return out, issues


_Plan = list[tuple[KpiDefinition, int, Measure]]
# Per KPI list (a batch's, by identity; the entry keeps the list alive, so an id is never
# reused while it is here) and event type: the measures that can count that type. The
# catalog has 16 KPIs; an event type is the source of a few of their measures.
_PLANS: dict[int, tuple[object, dict[str, _Plan]]] = {}


def _plan(kpis: Iterable[KpiDefinition], event_type: str) -> _Plan:
    if not isinstance(kpis, list | tuple):
        kpis = tuple(kpis)
    entry = _PLANS.get(id(kpis))
    if entry is None or entry[0] is not kpis:
        if len(_PLANS) > 256:
            _PLANS.clear()
        entry = _PLANS[id(kpis)] = (kpis, {})
    plan = entry[1].get(event_type)
    if plan is None:
        plan = entry[1][event_type] = [
            (kpi, index, m)
            for kpi in kpis
            for index, m in enumerate(kpi.formula.measures)
            if m.source in ("any", event_type)
        ]
    return plan


def contributions(
    state: RecordState | None,
    kpis: Iterable[KpiDefinition],
    ctx: TenantContext,
) -> tuple[list[Contribution], list[Issue]]:
    """Everything one record adds to the facts, and what looked wrong on the way."""
    out: list[Contribution] = []
    issues: list[Issue] = []
    if state is None or state.current.deleted:
        return out, issues
    ev = state.current
    default: date | None = None  # the record's default day, computed once
    # A payment with more than one version books amount_paid change by change; with one
    # version that is the plain path below (paid_bookings gives the same there).
    cumulative = ev.type == "payment" and len(state.history) > 1
    bookings: tuple[list[tuple[date, int]], list[Issue]] | None = None  # computed once
    for kpi, index, m in _plan(kpis, ev.type):
        if kpi.formula.shape == "working_day_share":
            days = {ctx.local_day(v.occurred_at) for v in state.history if not v.deleted}
            out.extend(
                Contribution(kpi.key, index, ev.rep_id, d, 0, d.isoformat()) for d in sorted(days)
            )
            continue
        if not matches(m.where, ev, ctx):
            continue
        if cumulative and m.by is None and m.kind == "sum" and m.field == "amount_paid":
            if bookings is None:
                bookings = paid_bookings(state, ctx)
            out.extend(Contribution(kpi.key, index, ev.rep_id, d, u) for d, u in bookings[0])
            issues.extend(bookings[1])
            continue
        if m.by is None:
            if default is None:
                default = default_day(state, ctx)
            day: date | None = default
        else:
            day = _measure_day(m, state, ctx)
        if day is None:
            continue
        if m.kind == "count":
            out.append(Contribution(kpi.key, index, ev.rep_id, day, SCALE))
            continue
        assert m.field is not None
        value = field_value(ev, m.field, ctx)
        if value is None:
            continue
        if m.kind == "distinct":
            member = value.isoformat() if isinstance(value, date) else str(value)
            out.append(Contribution(kpi.key, index, ev.rep_id, day, 0, member))
            continue
        if not isinstance(value, Decimal):
            issues.append(Issue("not_a_number", f"{kpi.key}: {m.field}={value!r}"))
            continue
        if m.field in MONEY_FIELDS:
            currency = ev.currency or ctx.currency
            if currency != ctx.currency:
                rate = ctx.fx.rate(currency, day)
                if rate is None:
                    issues.append(
                        Issue(
                            "missing_fx_rate",
                            f"{currency}->{ctx.currency} on {day.isoformat()}",
                        )
                    )
                    continue
                value = value * rate
        out.append(Contribution(kpi.key, index, ev.rep_id, day, to_units(value)))
    return out, issues


FactKey = tuple[str, int, str, date]
MemberKey = tuple[str, int, str, date, str]


@dataclass(slots=True)
class FactDelta:
    """What a batch changes: value/record-count deltas per fact row and per member row."""

    facts: dict[FactKey, list[int]] = field(default_factory=dict)  # key -> [units, n]
    members: dict[MemberKey, int] = field(default_factory=dict)  # key -> n

    def add(self, contribution: Contribution, sign: int) -> None:
        """Add (sign=1) or retract (sign=-1) one contribution."""
        c = contribution
        if c.member is not None:
            mk = (c.kpi, c.measure, c.rep_id, c.day, c.member)
            self.members[mk] = self.members.get(mk, 0) + sign
        else:
            fk = (c.kpi, c.measure, c.rep_id, c.day)
            cur = self.facts.setdefault(fk, [0, 0])
            cur[0] += sign * c.units
            cur[1] += sign

    def replace(self, old: Iterable[Contribution], new: Iterable[Contribution]) -> None:
        """Retract a record's old contributions and add its new ones."""
        for c in old:
            self.add(c, -1)
        for c in new:
            self.add(c, 1)

    def nonzero(self) -> FactDelta:
        """The same delta without entries that cancel out."""
        return FactDelta(
            facts={k: v for k, v in self.facts.items() if v[0] != 0 or v[1] != 0},
            members={k: v for k, v in self.members.items() if v != 0},
        )


def contributions_to_json(items: Sequence[Contribution]) -> list[list[Any]]:
    """Compact serialisable form of a record's contributions."""
    return [[c.kpi, c.measure, c.rep_id, c.day.isoformat(), c.units, c.member] for c in items]


def contributions_from_json(data: Sequence[Sequence[Any]]) -> list[Contribution]:
    """Load stored contributions."""
    return [
        Contribution(str(k), int(m), str(r), date.fromisoformat(d), int(u), mem)
        for k, m, r, d, u, mem in data
    ]
