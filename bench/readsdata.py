"""Synthetic KPI facts for the reads benchmark: a sales org's two years, as fact rows.

The reads benchmark measures reads, not ingest, so the facts go straight into
``kpi_facts`` and ``kpi_fact_members``, shaped as the scoring service would have left them
for a plausible stream of events: per rep and day, 0-3 visits, a few leads and quotes, a
few deals won or lost a month, payments, the odd complaint, survey and training. Every
built-in KPI gets its rows; :func:`check_catalog` fails loudly if the catalog's measures
no longer match what is generated here.

:func:`add_changes` then writes the change log those rows would have come with
(``kpi_fact_changes``, ``kpi_fact_member_changes``): each row split into 1-3 changes
stamped with knowledge times in the days after the row's day, summing to the row, so an
as-of read in the middle of the data has later changes to subtract. It draws from its own
random stream: the fact rows are the same with or without it.

Deterministic: the same scale and seed give the same rows.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

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
# tenant, kpi, measure, rep, day, known_at, value, n
ChangeRow = tuple[str, str, int, str, date, datetime, int, int]
# tenant, kpi, measure, rep, day, member, known_at, n
MemberChangeRow = tuple[str, str, int, str, date, str, datetime, int]
# The bench tenant's days are Asia/Shanghai days: UTC+8 all year (no daylight saving).
TENANT_UTC_OFFSET = timedelta(hours=8)


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
    changes: list[ChangeRow] = field(default_factory=list)
    member_changes: list[MemberChangeRow] = field(default_factory=list)


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


def _known_times(rng: random.Random, day: date, k: int) -> list[datetime]:
    """``k`` increasing knowledge times (UTC) for a fact of tenant-local ``day``.

    The first: the day itself between 09:00 and 23:00 local for 90% of rows, else one to
    three days late (an event synced late). The others: corrections 1 + Exp(mean 10) days
    after the day (capped at 90), at any time of day.
    """
    midnight = datetime.combine(day, time(), UTC) - TENANT_UTC_OFFSET
    if rng.random() < 0.9:
        first = midnight + timedelta(seconds=rng.randint(9 * 3600, 23 * 3600))
    else:
        first = midnight + timedelta(days=rng.randint(1, 3), seconds=rng.randint(0, 86_399))
    times = [first]
    for _ in range(k - 1):
        later = min(90.0, 1 + rng.expovariate(1 / 10))
        times.append(midnight + timedelta(seconds=int(later * 86_400)))
    times.sort()
    for j in range(1, k):  # the primary key includes known_at: keep them distinct
        if times[j] <= times[j - 1]:
            times[j] = times[j - 1] + timedelta(seconds=1)
    return times


def _pieces(rng: random.Random) -> int:
    # 60% of rows were known in one go, 30% changed once later, 10% twice.
    r = rng.random()
    return 1 if r < 0.6 else 2 if r < 0.9 else 3


def _split_count(rng: random.Random, total: int, k: int) -> list[int]:
    """``total`` (>= k) as ``k`` positive parts."""
    cuts = sorted(rng.sample(range(1, total), k - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def add_changes(data: Data) -> None:
    """The change log of ``data``'s rows: 1-3 changes per row that sum to the row.

    Counts (value = n x SCALE) split their records: each change adds whole records. Sums
    (amounts, hours, days) keep all records in the first change, and later changes correct
    the amount (first share 50-100%, the rest split at random). Member rows split their
    record count like counts. Knowledge times: :func:`_known_times`.
    """
    rng = random.Random(data.scale.seed + 1)
    rand = rng.random
    changes = data.changes
    for t, kpi, measure, rep, day, value, n in data.facts:
        k = _pieces(rng)
        if value == n * SCALE:
            k = min(k, n)
            parts = _split_count(rng, n, k) if k > 1 else [n]
            rows = [(p * SCALE, p) for p in parts]
        else:
            rows = []
            left = value
            share = 0.5 + 0.5 * rand()
            for j in range(k - 1):
                piece = int(value * share) if j == 0 else int(left * rand())
                rows.append((piece, n if j == 0 else 0))
                left -= piece
            rows.append((left, n if k == 1 else 0))
        for when, (v, c) in zip(_known_times(rng, day, len(rows)), rows, strict=True):
            if v or c:  # the ledger books no empty change
                changes.append((t, kpi, measure, rep, day, when, v, c))
    member_changes = data.member_changes
    for t, kpi, measure, rep, day, member, n in data.members:
        k = min(_pieces(rng), n)
        parts = _split_count(rng, n, k) if k > 1 else [n]
        for when, c in zip(_known_times(rng, day, k), parts, strict=True):
            member_changes.append((t, kpi, measure, rep, day, member, when, c))


def chunks(rows: list[tuple[object, ...]], size: int) -> Iterator[list[tuple[object, ...]]]:
    """Consecutive slices of ``rows``."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
