"""Payments the way CRMs send them: instalment records and cumulative ``amount_paid``.

An invoice's ``amount_paid`` is cumulative (the CRM's 已回款 on one invoice record): each
version books its change on its own paid day, whatever order the versions arrive in.
Separate instalment records book their whole amount on their day, as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import permutations
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from paceline.shared.events import CanonicalEvent
from paceline.shared.kpi.catalog import KpiDefinition, builtin
from paceline.shared.kpi.formula import parse_formula
from paceline.shared.kpi.records import (
    FxTable,
    RecordState,
    TenantContext,
    contributions,
    fold,
)
from paceline.shared.money import SCALE

SHANGHAI = ZoneInfo("Asia/Shanghai")
CTX = TenantContext("t1", SHANGHAI, "CNY")
COLLECTED = builtin("payments_collected")
RATE = builtin("collection_rate")

Facts = dict[tuple[str, int, str, date], tuple[int, int]]


def _custom(text: str) -> KpiDefinition:
    return KpiDefinition(
        key="custom",
        name_zh="自定义",
        name_en="custom",
        unit="currency",
        direction="higher",
        category="result",
        formula=parse_formula(text),
        builtin=False,
    )


def payment(
    version: int,
    amount_paid: str | None,
    paid_at: str | None = None,
    *,
    record: str = "INV-P",
    occurred_at: str | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> CanonicalEvent:
    """One version of an invoice record."""
    raw: dict[str, Any] = {
        "event_id": event_id or f"{record}-v{version}",
        "type": "payment",
        "entity_id": record,
        "version": version,
        "rep_id": "r1",
        "occurred_at": occurred_at or paid_at or "2026-11-01T10:00:00+08:00",
        **extra,
    }
    if amount_paid is not None:
        raw["amount_paid"] = amount_paid
    if paid_at is not None:
        raw["paid_at"] = paid_at
    return CanonicalEvent.model_validate(raw)


def folded(events: Sequence[CanonicalEvent]) -> RecordState:
    state: RecordState | None = None
    for ev in events:
        state = fold(state, ev)
    assert state is not None
    return state


def facts_of(
    states: Sequence[RecordState],
    kpis: Sequence[KpiDefinition] = (COLLECTED,),
    ctx: TenantContext = CTX,
) -> Facts:
    """Fact rows (units, n) as the scoring service would store them, zero rows left out."""
    rows: dict[tuple[str, int, str, date], list[int]] = defaultdict(lambda: [0, 0])
    for state in states:
        items, _issues = contributions(state, kpis, ctx)
        for c in items:
            row = rows[(c.kpi, c.measure, c.rep_id, c.day)]
            row[0] += c.units
            row[1] += 1
    return {k: (v[0], v[1]) for k, v in rows.items() if v != [0, 0]}


def collected(facts: Facts) -> dict[date, int]:
    """payments_collected per day, in whole currency units."""
    out: dict[date, int] = defaultdict(int)
    for (kpi, _m, _rep, day), (units, _n) in facts.items():
        if kpi == "payments_collected":
            out[day] += units // SCALE
    return {d: v for d, v in out.items() if v}


V1 = payment(1, "40000", "2026-11-20T10:00:00+08:00")
V2 = payment(2, "100000", "2026-12-02T10:00:00+08:00")
NOV20, DEC2 = date(2026, 11, 20), date(2026, 12, 2)


# -- the reported case and its variations --------------------------------------------------


def test_cumulative_versions_book_the_increase_on_their_own_day() -> None:
    """INV-P: 40,000 stays in November, December gets only the 60,000 increase."""
    for order in ([V1, V2], [V2, V1], [V2, V1, V2, V1]):
        assert collected(facts_of([folded(order)])) == {NOV20: 40000, DEC2: 60000}


def test_the_first_version_alone_books_all_of_it() -> None:
    assert collected(facts_of([folded([V1])])) == {NOV20: 40000}


def test_a_decrease_is_a_negative_booking_on_its_day() -> None:
    refund = payment(3, "70000", "2026-12-10T10:00:00+08:00")
    facts = facts_of([folded([refund, V1, V2])])
    assert collected(facts) == {NOV20: 40000, DEC2: 60000, date(2026, 12, 10): -30000}
    back_to_zero = payment(4, "0", occurred_at="2027-01-05T10:00:00+08:00")
    facts = facts_of([folded([V1, V2, refund, back_to_zero])])
    assert collected(facts) == {
        NOV20: 40000,
        DEC2: 60000,
        date(2026, 12, 10): -30000,
        date(2027, 1, 5): -70000,
    }


def test_a_version_without_amount_paid_counts_as_nothing_paid() -> None:
    """A later state without the field (e.g. Zoho's invoice no longer ``Paid``) reverses."""
    unpaid = payment(3, None, occurred_at="2026-12-05T09:00:00+08:00")
    assert collected(facts_of([folded([V1, V2, unpaid])])) == {
        NOV20: 40000,
        DEC2: 60000,
        date(2026, 12, 5): -100000,
    }


def test_instalments_as_separate_records_book_on_their_days() -> None:
    first = payment(1, "40000", "2026-11-20T10:00:00+08:00", record="INV-1")
    second = payment(1, "60000", "2026-12-02T10:00:00+08:00", record="INV-2")
    assert collected(facts_of([folded([first]), folded([second])])) == {
        NOV20: 40000,
        DEC2: 60000,
    }


def test_without_paid_at_the_version_counts_on_its_occurred_at() -> None:
    partial = payment(1, "40000", occurred_at="2026-11-20T23:30:00+08:00")
    # 2026-12-01T16:30Z is 12-02 00:30 in Shanghai
    rest = payment(2, "100000", occurred_at="2026-12-01T16:30:00+00:00")
    assert collected(facts_of([folded([rest, partial])])) == {NOV20: 40000, DEC2: 60000}


def test_deleting_the_invoice_retracts_everything_and_undeleting_restores_it() -> None:
    deleted = payment(3, "100000", "2026-12-02T10:00:00+08:00", deleted=True)
    assert facts_of([folded([V1, deleted, V2])]) == {}
    undeleted = payment(4, "100000", "2026-12-02T10:00:00+08:00")
    # the deleted version is passed over: the payments are back where they were paid
    assert collected(facts_of([folded([undeleted, V1, deleted, V2])])) == {
        NOV20: 40000,
        DEC2: 60000,
    }


def test_a_repeated_version_keeps_its_first_arrival() -> None:
    resend = payment(1, "55000", "2026-11-25T10:00:00+08:00", event_id="other-id")
    assert collected(facts_of([folded([V1, resend, V2])])) == {NOV20: 40000, DEC2: 60000}
    assert collected(facts_of([folded([resend, V2, V1])])) == {
        date(2026, 11, 25): 55000,
        DEC2: 45000,
    }


def test_an_unchanged_version_books_nothing_but_the_record_counts_on_its_current_day() -> None:
    same = payment(3, "100000", "2026-12-09T10:00:00+08:00")
    facts = facts_of([folded([V1, V2, same])])
    key = ("payments_collected", 0, "r1")
    assert facts == {
        (*key, NOV20): (40000 * SCALE, 1),
        (*key, DEC2): (60000 * SCALE, 1),
        (*key, date(2026, 12, 9)): (0, 1),
    }


def test_n_counts_the_record_once_per_day_it_books_on() -> None:
    morning = payment(1, "10000", "2026-11-20T09:00:00+08:00")
    evening = payment(2, "40000", "2026-11-20T18:00:00+08:00")
    december = payment(3, "100000", "2026-12-02T10:00:00+08:00")
    facts = facts_of([folded([december, morning, evening])])
    assert facts[("payments_collected", 0, "r1", NOV20)] == (40000 * SCALE, 1)
    assert facts[("payments_collected", 0, "r1", DEC2)] == (60000 * SCALE, 1)


def test_each_increase_is_converted_at_the_rate_of_its_day() -> None:
    fx = FxTable(
        {"USD": [(date(2026, 11, 1), Decimal("7.1")), (date(2026, 12, 1), Decimal("7.2"))]}
    )
    ctx = TenantContext("t1", SHANGHAI, "CNY", fx)
    usd = [
        payment(1, "1000", "2026-11-20T10:00:00+08:00", currency="USD"),
        payment(2, "2500", "2026-12-02T10:00:00+08:00", currency="USD"),
    ]
    assert collected(facts_of([folded(usd)], ctx=ctx)) == {NOV20: 7100, DEC2: 10800}
    # without a December rate only the November part counts, and the gap is reported
    ctx_nov = TenantContext("t1", SHANGHAI, "CNY", FxTable({"USD": [(NOV20, Decimal("7.1"))]}))
    late = payment(2, "2500", "2027-01-05T10:00:00+08:00", currency="USD")
    items, issues = contributions(folded([usd[0], late]), [COLLECTED], ctx_nov)
    assert [(c.day, c.units // SCALE) for c in items] == [(NOV20, 7100)]
    assert [i.detail for i in issues] == ["USD->CNY on 2027-01-05"]


def test_the_collection_rate_counts_collected_to_date_on_the_due_date() -> None:
    """Numerator and denominator stay on the invoice's due date; only the amount grows."""
    due = {"amount_due": "100000", "due_date": "2026-11-30"}
    v1 = payment(1, "40000", "2026-11-20T10:00:00+08:00", **due)
    v2 = payment(2, "100000", "2026-12-02T10:00:00+08:00", **due)
    nov30 = date(2026, 11, 30)
    for events, paid in (([v1], 40000), ([v2, v1], 100000)):
        facts = facts_of([folded(events)], kpis=[RATE])
        assert facts == {
            ("collection_rate", 0, "r1", nov30): (paid * SCALE, 1),
            ("collection_rate", 1, "r1", nov30): (100000 * SCALE, 1),
        }


def test_where_conditions_are_judged_on_the_current_version() -> None:
    east = _custom('sum(payment.amount_paid where attributes.region == "east")')
    v1 = payment(1, "40000", "2026-11-20T10:00:00+08:00", attributes={"region": "west"})
    v2 = payment(2, "100000", "2026-12-02T10:00:00+08:00", attributes={"region": "east"})
    rows = facts_of([folded([v1, v2])], kpis=[east])
    assert {day: units // SCALE for (_k, _m, _r, day), (units, _n) in rows.items()} == {
        NOV20: 40000,
        DEC2: 60000,
    }
    v3 = payment(3, "100000", "2026-12-09T10:00:00+08:00", attributes={"region": "west"})
    assert facts_of([folded([v1, v2, v3])], kpis=[east]) == {}


def test_other_measures_of_payments_count_the_current_version_as_before() -> None:
    count = _custom("count(payment)")
    by_paid_at = _custom("sum(payment.amount_paid by paid_at)")
    state = folded([V1, V2])
    assert facts_of([state], kpis=[count]) == {("custom", 0, "r1", DEC2): (SCALE, 1)}
    assert facts_of([state], kpis=[by_paid_at]) == {("custom", 0, "r1", DEC2): (100000 * SCALE, 1)}


# -- stored states -------------------------------------------------------------------------


def test_state_json_round_trip_keeps_the_payment_history() -> None:
    state = folded([V2, V1])
    again = RecordState.from_json(state.to_json())
    assert again == state
    assert facts_of([again]) == facts_of([state])


def test_other_records_store_the_same_history_rows_as_before() -> None:
    deal = CanonicalEvent.model_validate(
        {
            "event_id": "d1",
            "type": "deal",
            "stage": "won",
            "rep_id": "r1",
            "occurred_at": "2026-11-20T10:00:00+08:00",
        }
    )
    assert folded([deal]).to_json()["history"] == [
        [deal.version_rank, deal.occurred_at.isoformat(), "won", False]
    ]


def _old_json(state: RecordState) -> dict[str, Any]:
    """A state as stored before payment histories were kept."""
    data = state.to_json()
    data["history"] = [row[:4] for row in data["history"]]
    return data


def test_a_state_stored_before_payment_histories_counts_as_before() -> None:
    old = RecordState.from_json(_old_json(folded([V1, V2])))
    assert collected(facts_of([old])) == {DEC2: 100000}
    # the next version books its change against the stored current version
    v3 = payment(3, "130000", "2026-12-20T10:00:00+08:00")
    assert collected(facts_of([fold(old, v3)])) == {DEC2: 100000, date(2026, 12, 20): 30000}
    again = RecordState.from_json(fold(old, v3).to_json())
    assert collected(facts_of([again])) == {DEC2: 100000, date(2026, 12, 20): 30000}


# -- the property: any arrival order gives the from-scratch recount ------------------------

_BASE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_AMOUNTS = ["0", "40000", "40000", "100000", "100000.50", "70000"]


@st.composite
def _invoice_versions(draw: st.DrawFn) -> list[CanonicalEvent]:
    """Versions of up to three invoices: amounts up and down, deletes, resends."""
    events: list[CanonicalEvent] = []
    for i in range(draw(st.integers(1, 12))):
        record = draw(st.sampled_from(["INV-A", "INV-B", "INV-C"]))
        version = draw(st.integers(1, 6))
        paid_at = draw(st.none() | st.integers(-100, 100))
        events.append(
            payment(
                version,
                draw(st.none() | st.sampled_from(_AMOUNTS)),
                None if paid_at is None else (_BASE + timedelta(hours=7 * paid_at)).isoformat(),
                record=record,
                occurred_at=(_BASE + timedelta(hours=5 * draw(st.integers(-100, 100)))).isoformat(),
                event_id=f"e{i}",
                deleted=draw(st.integers(0, 7)) == 0,
            )
        )
    return events


def _recount(events: Sequence[CanonicalEvent]) -> dict[tuple[str, date], int]:
    """From scratch: per invoice, the rank-ordered versions' increases on their days."""
    out: dict[tuple[str, date], int] = defaultdict(int)
    records: dict[str, dict[str, CanonicalEvent]] = defaultdict(dict)
    for ev in events:  # arrival order: the first arrival of a version wins
        records[ev.record_id].setdefault(ev.version_rank, ev)
    for versions in records.values():
        chain = [versions[rank] for rank in sorted(versions)]
        if chain[-1].deleted:
            continue
        before = Decimal(0)
        for ev in chain:
            if ev.deleted:
                continue
            now = ev.amount_paid or Decimal(0)
            day = (ev.paid_at or ev.occurred_at).astimezone(SHANGHAI).date()
            out[(ev.rep_id, day)] += int((now - before) * SCALE)
            before = now
    return {k: v for k, v in out.items() if v}


@given(events=_invoice_versions(), data=st.data())
def test_any_arrival_order_books_the_recount(
    events: list[CanonicalEvent], data: st.DataObject
) -> None:
    """Folded one by one (through JSON, as stored), in two orders: the recount each time."""
    for arrival in (events, data.draw(st.permutations(events))):
        by_record: dict[str, list[CanonicalEvent]] = defaultdict(list)
        for ev in arrival:
            by_record[ev.record_id].append(ev)
        booked: dict[tuple[str, date], int] = defaultdict(int)
        for evs in by_record.values():
            state: RecordState | None = None
            for ev in evs:
                state = fold(state, ev)
                state = RecordState.from_json(state.to_json())
            assert state is not None
            for (_k, _m, rep, day), (units, n) in facts_of([state]).items():
                assert n == 1  # one record counts once on each day it books on
                booked[(rep, day)] += units
        assert {k: v for k, v in booked.items() if v} == _recount(arrival)


def test_every_order_of_a_small_history_gives_the_same_facts() -> None:
    versions = [
        V1,
        V2,
        payment(3, "70000", "2026-12-10T10:00:00+08:00"),
        payment(4, "70000", "2026-12-10T10:00:00+08:00", deleted=True),
        payment(5, "90000", occurred_at="2027-01-03T10:00:00+08:00"),
    ]
    results = {tuple(sorted(facts_of([folded(list(p))]).items())) for p in permutations(versions)}
    assert len(results) == 1
    assert collected(dict(results.pop())) == {
        NOV20: 40000,
        DEC2: 60000,
        date(2026, 12, 10): -30000,
        date(2027, 1, 3): 20000,
    }
