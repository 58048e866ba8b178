"""Synthetic KPI facts for the reads benchmark: a sales org's two years, as fact rows.

The reads benchmark measures reads, not ingest, so the facts go straight into
``kpi_facts`` and ``kpi_fact_members``, shaped as the scoring service would have left them
for a plausible stream of events: per rep and day, 0-3 visits, a few leads and quotes, a
few deals won or lost a month, payments, the odd complaint, survey and training. Every
built-in KPI gets its rows; :func:`check_catalog` fails loudly if the catalog's measures
no longer match what is generated here.

Deterministic: the same scale and seed give the same rows.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from paceline.shared.kpi.calendar import builtin_calendar
from paceline.shared.kpi.catalog import BUILTIN_KPIS
from paceline.shared.money import SCALE

TENANT = "bench"
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2026, 12, 31)

# (kind, source) of each measure of each built-in KPI, as generated below.
GENERATED: dict[str, list[tuple[str, str]]] = {
    "revenue": [("sum", "deal")],
    "deals_won": [("count", "deal")],
    "new_customers": [("distinct", "deal")],
    "gross_margin_rate": [("sum", "deal"), ("sum", "deal")],
    "payments_collected": [("sum", "payment")],
    "visits": [("count", "visit")],
    "new_opportunities": [("count", "lead")],
    "quotes": [("count", "quote")],
    "win_rate": [("count", "deal"), ("count", "deal")],
    "collection_rate": [("sum", "payment"), ("sum", "payment")],
    "collection_cycle_days": [("sum", "payment"), ("count", "payment")],
    "complaint_rate": [("count", "complaint"), ("distinct", "any")],
    "response_hours": [("sum", "complaint"), ("count", "complaint")],
    "csat": [("sum", "survey"), ("count", "survey")],
    "training_pass_rate": [("count", "training"), ("count", "training")],
    "crm_active_days": [("distinct", "any")],
}

FactRow = tuple[str, str, int, str, date, int, int]  # tenant, kpi, measure, rep, day, value, n
MemberRow = tuple[str, str, int, str, date, str, int]  # ... member, n


def check_catalog() -> None:
    """Fail if a built-in KPI's measures differ from what this module generates."""
    for kpi in BUILTIN_KPIS:
        want = GENERATED.get(kpi.key)
        got = [(m.kind, m.source) for m in kpi.formula.measures]
        if want != got:
            raise RuntimeError(
                f"bench/readsdata.py is out of date for KPI {kpi.key!r}: generates {want}, "
                f"the catalog has {got}"
            )
    extra = set(GENERATED) - {k.key for k in BUILTIN_KPIS}
    if extra:
        raise RuntimeError(f"bench/readsdata.py generates unknown KPIs {sorted(extra)}")


@dataclass(frozen=True, slots=True)
class Scale:
    """How big the org and its history are."""

    teams: int = 5
    reps_per_team: int = 100
    first_day: date = FIRST_DAY
    last_day: date = LAST_DAY
    seed: int = 20260101

    @property
    def reps(self) -> int:
        """Reps in the org."""
        return self.teams * self.reps_per_team

    @property
    def days(self) -> int:
        """Days of history."""
        return (self.last_day - self.first_day).days + 1


def team_id(t: int) -> str:
    """The id of team ``t`` (0-based)."""
    return f"team-{t + 1}"


def rep_id(i: int) -> str:
    """The id of rep ``i`` (0-based)."""
    return f"rep-{i + 1:03d}"


def rep_team(scale: Scale, i: int) -> str:
    """The team of rep ``i``."""
    return team_id(i // scale.reps_per_team)


@dataclass
class Data:
    """The generated rows and their totals."""

    scale: Scale
    facts: list[FactRow] = field(default_factory=list)
    members: list[MemberRow] = field(default_factory=list)


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small rates used here.
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _units(amount_cents: int) -> int:
    return amount_cents * (SCALE // 100)


def generate(scale: Scale) -> Data:
    """Fact and member rows for every rep and day of the scale."""
    check_catalog()
    rng = random.Random(scale.seed)
    calendar = builtin_calendar("cn")
    days = [scale.first_day + timedelta(days=d) for d in range(scale.days)]
    working = {d: calendar.is_working_day(d) for d in days}
    data = Data(scale)
    facts = data.facts
    members = data.members
    t = TENANT
    rand = rng.random
    randint = rng.randint
    for i in range(scale.reps):
        rep = rep_id(i)
        # Some reps are busier than others; some sell bigger deals. rep-001, whose
        # progress the benchmark reads, is an average rep.
        busy = rng.lognormvariate(0, 0.3)
        size = rng.lognormvariate(math.log(40_000), 0.4)
        if i == 0:
            busy, size = 1.0, 40_000.0
        pool = [f"c-{i + 1:03d}-{k:03d}" for k in range(60)]
        new_seq = 0
        # Facts landing on another day than the event's (collection_rate is by due date).
        due: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
        for day in days:
            if working[day]:
                visits = min(3, _poisson(rng, 1.3 * busy))
                leads = _poisson(rng, 0.35 * busy)
                quotes = _poisson(rng, 0.3 * busy)
                won = _poisson(rng, 0.14 * busy)
                lost = _poisson(rng, 0.1 * busy)
                payments = _poisson(rng, 0.1 * busy)
                complaints = _poisson(rng, 0.02)
                surveys = _poisson(rng, 0.05)
                trainings = _poisson(rng, 0.01)
            else:
                # Weekends and holidays: now and then a visit or a lead.
                visits = 1 if rand() < 0.04 else 0
                leads = 1 if rand() < 0.02 else 0
                quotes = won = lost = payments = complaints = surveys = trainings = 0
            events = (
                visits + leads + quotes + won + lost + payments + complaints + surveys + trainings
            )
            if events == 0:
                continue
            customers: dict[str, int] = defaultdict(int)
            for _ in range(visits + quotes + lost + payments + complaints + surveys):
                customers[pool[randint(0, 59)]] += 1
            for _ in range(leads):
                # Leads are prospects: a new id, seen once.
                customers[f"p-{i + 1:03d}-{day.toordinal()}-{randint(0, 10**6)}"] += 1
            if visits:
                facts.append((t, "visits", 0, rep, day, visits * SCALE, visits))
            if leads:
                facts.append((t, "new_opportunities", 0, rep, day, leads * SCALE, leads))
            if quotes:
                facts.append((t, "quotes", 0, rep, day, quotes * SCALE, quotes))
            if won or lost:
                facts.append((t, "win_rate", 1, rep, day, (won + lost) * SCALE, won + lost))
            if won:
                amount = margin = margin_base = with_margin = 0
                new_members: dict[str, int] = defaultdict(int)
                for _ in range(won):
                    cents = int(rng.lognormvariate(math.log(size), 0.8) * 100)
                    amount += cents
                    if rand() < 0.85:
                        # gross_margin_rate counts only the won deals that carry a margin.
                        with_margin += 1
                        margin_base += cents
                        margin += int(cents * (0.15 + 0.3 * rand()))
                    if rand() < 0.25:
                        new_seq += 1
                        cust = f"n-{i + 1:03d}-{new_seq:04d}"
                        new_members[cust] += 1
                    else:
                        cust = pool[randint(0, 59)]
                    customers[cust] += 1
                facts.append((t, "revenue", 0, rep, day, _units(amount), won))
                facts.append((t, "deals_won", 0, rep, day, won * SCALE, won))
                facts.append((t, "win_rate", 0, rep, day, won * SCALE, won))
                if with_margin:
                    facts.append((t, "gross_margin_rate", 0, rep, day, _units(margin), with_margin))
                    facts.append(
                        (t, "gross_margin_rate", 1, rep, day, _units(margin_base), with_margin)
                    )
                for cust, n in new_members.items():
                    members.append((t, "new_customers", 0, rep, day, cust, n))
            if payments:
                paid = 0
                days_sum = 0
                for _ in range(payments):
                    due_cents = int(rng.lognormvariate(math.log(size * 0.6), 0.6) * 100)
                    paid_cents = due_cents if rand() < 0.8 else int(due_cents * rand())
                    paid += paid_cents
                    late = randint(-10, 40)
                    days_sum += late
                    due_day = max(scale.first_day, day - timedelta(days=late))
                    acc = due[due_day]
                    acc[0] += paid_cents
                    acc[1] += due_cents
                    acc[2] += 1
                facts.append((t, "payments_collected", 0, rep, day, _units(paid), payments))
                facts.append((t, "collection_cycle_days", 0, rep, day, days_sum * SCALE, payments))
                facts.append((t, "collection_cycle_days", 1, rep, day, payments * SCALE, payments))
            if complaints:
                facts.append((t, "complaint_rate", 0, rep, day, complaints * SCALE, complaints))
                answered = sum(1 for _ in range(complaints) if rand() < 0.9)
                if answered:
                    hours = sum(randint(50, 4800) for _ in range(answered))  # 1/100 hours
                    facts.append((t, "response_hours", 0, rep, day, _units(hours), answered))
                    facts.append((t, "response_hours", 1, rep, day, answered * SCALE, answered))
            if surveys:
                score = sum(randint(1, 5) for _ in range(surveys))
                facts.append((t, "csat", 0, rep, day, score * SCALE, surveys))
                facts.append((t, "csat", 1, rep, day, surveys * SCALE, surveys))
            if trainings:
                passed = sum(1 for _ in range(trainings) if rand() < 0.8)
                if passed:
                    facts.append((t, "training_pass_rate", 0, rep, day, passed * SCALE, passed))
                facts.append((t, "training_pass_rate", 1, rep, day, trainings * SCALE, trainings))
            for cust, n in customers.items():
                members.append((t, "complaint_rate", 1, rep, day, cust, n))
            members.append((t, "crm_active_days", 0, rep, day, day.isoformat(), events))
        for due_day, (paid_cents, due_cents, n) in sorted(due.items()):
            facts.append((t, "collection_rate", 0, rep, due_day, _units(paid_cents), n))
            facts.append((t, "collection_rate", 1, rep, due_day, _units(due_cents), n))
    return data


def chunks(rows: list[tuple[object, ...]], size: int) -> Iterator[list[tuple[object, ...]]]:
    """Consecutive slices of ``rows``."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
