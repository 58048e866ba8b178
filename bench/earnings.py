"""Incentives (issue 14): earnings of 500 reps for a month beside the scorecard reads.

Data: the default tenant, a root team ``org`` over 5 teams x 100 reps, a month (November
2026) of unique events posted through ``POST /v1/events`` and applied by the scoring
worker (the stack runs all three services in-process on the database under test and the
embedded event log), targets for every rep's scorecard KPIs and every team's revenue, and
two incentive plans (every component type) assigned by role, with a few reps switching
plan mid-month. Then an API-only app (``paceline.cli.stack.build_app``, parts ``api``,
``httpx.ASGITransport``, API key auth, JSON) on a clock standing at the read moment serves
the measured calls.

Measured, per database: ``GET /v1/earnings?scope=team:org&period=2026-11`` (all 500 reps)
beside ``GET /v1/leaderboard?team=org&period=2026-11`` (the same 500 reps, their template
KPIs, score and rank) and ``GET /v1/scorecards?scope=team:org&period=2026-11`` (the same
scope as one card), in rounds of E, L, S, S, L, E (ABBA generalised), so drift hits each
alike; medians, p95s and the ratios earnings / leaderboard and earnings / scorecard.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, text

from bench import harness
from bench.reads import _create_pg_database
from paceline.api.targets.schemas import TargetIn
from paceline.api.targets.service import create_target
from paceline.cli.stack import build_app
from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.migrate import upgrade
from paceline.shared.db.models import ConsumerOffset, Tenant
from paceline.shared.db.session import Database
from paceline.shared.kpi.calendar import builtin_calendar
from paceline.shared.settings import Settings

TITLE = "Incentives: earnings for 500 reps beside the scorecard reads"

ABOUT = """\
**Data.** The default tenant (Asia/Shanghai), a root team `org` over 5 teams x 100 reps
(`--quick`: 5 x 20); 80% of the reps are account managers, 20% channel managers. November
2026 of unique events (no event id repeated) posted through `POST /v1/events` in batches
of 1,000 and applied by the scoring worker, as in production: 0-3 visits per rep and
working day, leads, quotes, deals won (a quarter to new customers) and lost, about 15% of
won deals corrected later in the month (a second version: the amount revised, or the deal
reverted to lost) and 5% of lost deals won after all, invoices paid in full (80%) or in
part, complaints, trainings. Targets (through the targets service, before the month) for
every rep's five template KPIs and every team's revenue: each rep's revenue target is set
so attainment spreads from about 60% to 140% (every commission tier and the bonus curve
are reached). Two plans, assigned by role: `am` (account managers: marginal commission
tiers 2% / 5% from 100% / 8% from 120% on revenue, an attainment bonus curve on revenue,
a gate on collection rate >= 80%, a -10%-per-complaint modifier, a per-new-customer spiff
for the month, a team pool on the team's revenue split by attainment) and `cm` (channel
managers: 3% of payments collected, a scorecard bonus); every 25th rep changes from `am`
to `cm` on the 16th (own assignments, two pro-rata segments). The notes give the counts.

**Measured.** Through the whole deployed API app (`paceline.cli.stack.build_app`, api
part only, `httpx.ASGITransport`, API key auth, JSON) on a clock standing at
2026-11-30 18:00 Asia/Shanghai, a live read on the month's last day (every day of the
month has begun, so the projection equals what is earned: the projection's scaling is
not exercised): `GET /v1/earnings?scope=team:org&period=2026-11` (every line,
projection and next tier of all 500 reps, and the pools) beside the scorecard reads of
the same scope and period: `GET /v1/leaderboard?team=org` (500 reps x 5 template KPIs,
score and rank: the per-rep read closest to earnings) and `GET /v1/scorecards?scope=
team:org` (one card for the scope). Rounds of earnings, leaderboard, scorecard,
scorecard, leaderboard, earnings (ABBA), after a warm-up round; each call timed with
`time.perf_counter` around the request. **Ratio = earnings median / scorecard-read
median**: how many scorecard reads of the same scope one earnings read costs. Before
timing, the run checks that both reads cover the same 500 reps and that each full-month
account manager's commission base equals the leaderboard's revenue for that rep.
"""

TENANT_TZ = ZoneInfo("Asia/Shanghai")
PERIOD = "2026-11"
MONTH_START = date(2026, 11, 1)
MONTH_END = date(2026, 12, 1)
SETUP_AT = datetime(2026, 10, 25, 10, 0, tzinfo=TENANT_TZ)  # org, plans, targets
READ_AT = datetime(2026, 11, 30, 18, 0, tzinfo=TENANT_TZ)  # events before it; reads at it
SWITCH_DAY = date(2026, 11, 16)
ROOT = "org"


@dataclass(frozen=True, slots=True)
class Plan:
    """How big and how long."""

    teams: int
    reps_per_team: int
    rounds: int  # ABBA rounds: two timed calls of each read per round
    budget_s: float  # stop after this long per database...
    min_rounds: int  # ...once at least this many rounds are in
    seed: int = 20261101

    @property
    def reps(self) -> int:
        """Reps in the org."""
        return self.teams * self.reps_per_team


def plan(quick: bool) -> Plan:
    """The issue's scale (500 reps), or a short smoke-test run."""
    if quick:
        return Plan(teams=5, reps_per_team=20, rounds=5, budget_s=10, min_rounds=3)
    return Plan(teams=5, reps_per_team=100, rounds=15, budget_s=150, min_rounds=5)


def rep_id(i: int) -> str:
    """The id of rep ``i`` (0-based)."""
    return f"rep-{i + 1:03d}"


def team_id(t: int) -> str:
    """The id of team ``t`` (0-based)."""
    return f"t{t + 1}"


def role_of(i: int) -> str:
    """Every fifth rep is a channel manager."""
    return "channel_manager" if i % 5 == 4 else "account_manager"


def switches(i: int) -> bool:
    """Every 25th rep (an account manager) moves from ``am`` to ``cm`` on the 16th."""
    return i % 25 == 0


# -- plans -------------------------------------------------------------------------------

COMPLAINTS_KPI = {
    "key": "complaints",
    "name_zh": "投诉数",
    "name_en": "Complaints",
    "unit": "count",
    "direction": "lower",
    "category": "process",
    "formula": "count(complaint)",
}
AM_PLAN: dict[str, Any] = {
    "key": "am",
    "name_zh": "客户经理激励",
    "name_en": "Account managers",
    "components": [
        {
            "type": "commission",
            "key": "rev",
            "kpi": "revenue",
            "mode": "marginal",
            "tiers": [
                {"from": "0", "rate": "0.02"},
                {"from": "1", "rate": "0.05"},
                {"from": "1.2", "rate": "0.08"},
            ],
        },
        {
            "type": "bonus",
            "key": "attain",
            "basis": "revenue",
            "amount": "10000",
            "threshold": "0.8",
            "threshold_payout": "0.5",
            "stretch": "1.2",
            "stretch_payout": "1.5",
            "cap": "2",
        },
        {"type": "gate", "key": "collect", "kpi": "collection_rate", "min": "0.8"},
        {
            "type": "modifier",
            "key": "quality",
            "kpi": "complaints",
            "per_unit": "-0.1",
            "floor": "0.5",
            "ceiling": "1",
        },
        {
            "type": "spiff",
            "key": "newcust",
            "kpi": "new_customers",
            "amount": "500",
            "start": "2026-11-01",
            "end": "2026-11-30",
        },
        {
            "type": "pool",
            "key": "teampool",
            "basis": "revenue",
            "amount": "20000",
            "split": "attainment",
        },
    ],
}
CM_PLAN: dict[str, Any] = {
    "key": "cm",
    "name_zh": "渠道经理激励",
    "name_en": "Channel managers",
    "components": [
        {
            "type": "commission",
            "key": "collected",
            "kpi": "payments_collected",
            "tiers": [{"from": "0", "rate": "0.03"}],
        },
        {
            "type": "bonus",
            "key": "score",
            "basis": "scorecard",
            "amount": "8000",
            "threshold": "0.5",
        },
    ],
}


def assignments(p: Plan) -> list[dict[str, Any]]:
    """By role, and own assignments for the reps who switch plan mid-month."""
    out: list[dict[str, Any]] = [
        {"plan": "am", "role": "account_manager", "valid_from": "2026-11-01"},
        {"plan": "cm", "role": "channel_manager", "valid_from": "2026-11-01"},
    ]
    for i in range(p.reps):
        if switches(i):
            out.append(
                {
                    "plan": "am",
                    "rep": rep_id(i),
                    "valid_from": "2026-11-01",
                    "valid_to": SWITCH_DAY.isoformat(),
                }
            )
            out.append({"plan": "cm", "rep": rep_id(i), "valid_from": SWITCH_DAY.isoformat()})
    return out


# -- events ------------------------------------------------------------------------------


@dataclass
class Month:
    """The month's events and what the targets are set from."""

    events: list[dict[str, Any]]
    revenue: dict[str, Decimal]  # per rep, the won deals' latest amounts (for targets)
    kinds: dict[str, int]


def _poisson(rng: random.Random, lam: float) -> int:
    limit = math.exp(-lam)
    k, prob = 0, rng.random()
    while prob > limit:
        k += 1
        prob *= rng.random()
    return k


def _at(day: date, rng: random.Random) -> str:
    moment = datetime.combine(day, datetime.min.time(), TENANT_TZ) + timedelta(
        seconds=rng.randint(9 * 3600, 17 * 3600)
    )
    return moment.isoformat()


def generate(p: Plan) -> Month:
    """A month of unique events for every rep, up to the read moment."""
    rng = random.Random(p.seed)
    calendar = builtin_calendar("cn")
    last = READ_AT.date()
    days = [MONTH_START + timedelta(days=d) for d in range((last - MONTH_START).days + 1)]
    events: list[dict[str, Any]] = []
    revenue: dict[str, Decimal] = {}
    kinds: dict[str, int] = defaultdict(int)

    def add(event: dict[str, Any], kind: str) -> None:
        events.append(event)
        kinds[kind] += 1

    for i in range(p.reps):
        rep = rep_id(i)
        busy = rng.lognormvariate(0, 0.3)
        size = rng.lognormvariate(math.log(40_000), 0.4)
        pool = [f"c-{rep}-{k:03d}" for k in range(60)]
        next_id = functools.partial(_next_id, rep, itertools.count(1))
        won_total = Decimal(0)
        for day in days:
            working = calendar.is_working_day(day)
            if not working:
                if rng.random() < 0.04:
                    add(_visit(next_id("v"), rep, day, rng, pool), "visit")
                continue
            for _ in range(min(3, _poisson(rng, 1.3 * busy))):
                add(_visit(next_id("v"), rep, day, rng, pool), "visit")
            for _ in range(_poisson(rng, 0.35 * busy)):
                lead = next_id("l")
                add(
                    {
                        "event_id": lead,
                        "type": "lead",
                        "occurred_at": _at(day, rng),
                        "rep_id": rep,
                        "customer_id": f"p-{lead}",
                        "source": "web",
                    },
                    "lead",
                )
            for _ in range(_poisson(rng, 0.3 * busy)):
                add(
                    {
                        "event_id": next_id("q"),
                        "type": "quote",
                        "occurred_at": _at(day, rng),
                        "rep_id": rep,
                        "customer_id": pool[rng.randint(0, 59)],
                        "status": "sent",
                        "amount": str(round(size * rng.uniform(0.5, 1.5), 2)),
                    },
                    "quote",
                )
            for stage, lam in (("won", 0.14 * busy), ("lost", 0.1 * busy)):
                for _ in range(_poisson(rng, lam)):
                    amount = Decimal(str(round(rng.lognormvariate(math.log(size), 0.8), 2)))
                    new = stage == "won" and rng.random() < 0.25
                    deal_id = next_id("d")
                    customer = f"n-{deal_id}" if new else pool[rng.randint(0, 59)]
                    closed = _at(day, rng)
                    base = {
                        "type": "deal",
                        "entity_id": deal_id,
                        "occurred_at": closed,
                        "closed_at": closed,
                        "rep_id": rep,
                        "customer_id": customer,
                        "is_new_customer": new,
                    }
                    add(
                        {**base, "event_id": f"{deal_id}-v1", "version": 1, "stage": stage}
                        | {"amount": str(amount)},
                        f"deal {stage}",
                    )
                    final_stage, final_amount = stage, amount
                    fix_day = day + timedelta(days=rng.randint(2, 6))
                    r = rng.random()
                    corrected = fix_day <= last and (
                        (stage == "won" and r < 0.15) or (stage == "lost" and r < 0.05)
                    )
                    if corrected:
                        if stage == "lost":
                            final_stage = "won"
                        elif r < 0.10:
                            final_amount = (amount * Decimal(str(rng.uniform(0.7, 1.1)))).quantize(
                                Decimal("0.01")
                            )
                        else:
                            final_stage = "lost"
                        add(
                            {
                                **base,
                                "event_id": f"{deal_id}-v2",
                                "version": 2,
                                "occurred_at": _at(fix_day, rng),
                                "stage": final_stage,
                                "amount": str(final_amount),
                            },
                            "deal correction",
                        )
                    if final_stage == "won":
                        won_total += final_amount
            for _ in range(_poisson(rng, 0.1 * busy)):
                inv = next_id("i")
                due_amount = Decimal(str(round(rng.lognormvariate(math.log(size * 0.6), 0.6), 2)))
                paid = (
                    due_amount
                    if rng.random() < 0.8
                    else (due_amount * Decimal(str(rng.random()))).quantize(Decimal("0.01"))
                )
                due_day = max(MONTH_START, day - timedelta(days=rng.randint(0, 15)))
                add(
                    {
                        "event_id": f"{inv}-v1",
                        "type": "payment",
                        "entity_id": inv,
                        "version": 1,
                        "occurred_at": _at(day, rng),
                        "rep_id": rep,
                        "customer_id": pool[rng.randint(0, 59)],
                        "invoice_id": inv,
                        "amount_due": str(due_amount),
                        "due_date": due_day.isoformat(),
                        "amount_paid": str(paid),
                        "paid_at": _at(day, rng),
                    },
                    "payment",
                )
            for _ in range(_poisson(rng, 0.02)):
                add(
                    {
                        "event_id": next_id("k"),
                        "type": "complaint",
                        "occurred_at": _at(day, rng),
                        "rep_id": rep,
                        "customer_id": pool[rng.randint(0, 59)],
                    },
                    "complaint",
                )
            if rng.random() < 0.01:
                add(
                    {
                        "event_id": next_id("t"),
                        "type": "training",
                        "occurred_at": _at(day, rng),
                        "rep_id": rep,
                        "course": "product-basics",
                        "passed": rng.random() < 0.8,
                    },
                    "training",
                )
        revenue[rep] = won_total
    # Unique ids, as the issue asks: a repeat would be deduplicated, not measured.
    ids = [e["event_id"] for e in events]
    if len(set(ids)) != len(ids):
        raise RuntimeError("bench/earnings.py generated a repeated event id")
    events.sort(key=lambda e: str(e["occurred_at"]))
    return Month(events, revenue, dict(kinds))


def _next_id(rep: str, counter: Iterator[int], prefix: str) -> str:
    return f"{prefix}-{rep}-{next(counter):05d}"


def _visit(
    event_id: str, rep: str, day: date, rng: random.Random, pool: list[str]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "visit",
        "occurred_at": _at(day, rng),
        "rep_id": rep,
        "customer_id": pool[rng.randint(0, 59)],
        "channel": "onsite",
    }


# -- targets -----------------------------------------------------------------------------

AM_KPIS = ("revenue", "new_customers", "visits", "win_rate", "crm_active_days")
CM_KPIS = ("revenue", "payments_collected", "new_opportunities", "quotes", "training_pass_rate")
FIXED_TARGETS = {
    "new_customers": Decimal(2),
    "visits": Decimal(25),
    "win_rate": Decimal("0.6"),
    "crm_active_days": Decimal("0.9"),
    "payments_collected": Decimal(40_000),
    "new_opportunities": Decimal(7),
    "quotes": Decimal(6),
    "training_pass_rate": Decimal("0.8"),
}


def targets(p: Plan, month: Month) -> list[TargetIn]:
    """Every rep's template KPIs and every team's revenue for the month."""
    rng = random.Random(p.seed + 1)
    out: list[TargetIn] = []
    team_revenue: dict[str, Decimal] = defaultdict(Decimal)
    for i in range(p.reps):
        rep = rep_id(i)
        # Attainment spread over about 60%..140%: every tier and the bonus curve are hit.
        revenue = month.revenue[rep] / Decimal(str(rng.uniform(0.6, 1.4)))
        revenue = max(Decimal(10_000), revenue.quantize(Decimal(1)))
        team_revenue[team_id(i // p.reps_per_team)] += revenue
        for kpi in CM_KPIS if role_of(i) == "channel_manager" else AM_KPIS:
            value = revenue if kpi == "revenue" else FIXED_TARGETS[kpi]
            out.append(_target(kpi, f"rep:{rep}", value))
    for team, value in sorted(team_revenue.items()):
        out.append(_target("revenue", f"team:{team}", value))
    return out


def _target(kpi: str, scope: str, value: Decimal) -> TargetIn:
    return TargetIn(
        kpi=kpi,
        scope=scope,
        period=PERIOD,
        target=value,
        baseline=(value * Decimal("0.8")).quantize(Decimal("0.0001")),
        stretch=(value * Decimal("1.2")).quantize(Decimal("0.0001")),
        reason="bench",
    )


# -- setup -------------------------------------------------------------------------------


def org(p: Plan) -> dict[str, Any]:
    """A root team over the teams, the reps in the teams."""
    teams = [{"id": ROOT, "name": "Company"}] + [
        {"id": team_id(t), "name": f"Team {t + 1}", "parent_id": ROOT} for t in range(p.teams)
    ]
    reps = [
        {
            "id": rep_id(i),
            "name": f"Rep {i + 1}",
            "team_id": team_id(i // p.reps_per_team),
            "role": role_of(i),
        }
        for i in range(p.reps)
    ]
    return {"teams": teams, "reps": reps}


def _ok(resp: httpx.Response, *status: int) -> Any:
    if resp.status_code not in (status or (200,)):
        raise RuntimeError(
            f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
        )
    return resp.json()


async def _wait_scored(app: Any, settings: Settings, timeout_s: float = 600) -> None:
    eventlog = app.state.paceline.eventlog
    db: Database = app.state.paceline.db
    deadline = time.monotonic() + timeout_s
    while True:
        ends = await eventlog.end_offsets()
        async with db.transaction(write=False) as session:
            rows = (
                await session.execute(
                    select(ConsumerOffset.partition, ConsumerOffset.next_offset).where(
                        ConsumerOffset.group_id == settings.consumer_group,
                        ConsumerOffset.topic == settings.topic,
                    )
                )
            ).all()
        done = {int(part): int(off) for part, off in rows}
        if all(done.get(part, 0) >= end for part, end in ends.items() if end > 0):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"scoring did not catch up: log {ends}, applied {done}")
        await asyncio.sleep(0.2)


async def seed(ctx: harness.Context, settings: Settings, p: Plan, month: Month) -> None:
    """Org, KPI, plans, assignments and targets before the month; then its events, scored."""
    clock = FixedClock(SETUP_AT)
    app = build_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        db: Database = app.state.paceline.db
        key = generate_key()
        async with db.transaction() as session:
            await tenant_repo.add_key(
                session,
                tenant_id=settings.default_tenant,
                key=key,
                name="bench-admin",
                scopes=["admin"],
                now=clock.now(),
            )
        headers = {"Authorization": f"Bearer {key.plaintext}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://paceline.bench", timeout=120
        ) as client:
            _ok(await client.put("/v1/org", json=org(p), headers=headers))
            _ok(await client.post("/v1/kpis", json=COMPLAINTS_KPI, headers=headers), 201)
            for body in (AM_PLAN, CM_PLAN):
                _ok(await client.post("/v1/incentive-plans", json=body, headers=headers), 201)
            for body in assignments(p):
                _ok(
                    await client.post("/v1/incentive-assignments", json=body, headers=headers),
                    201,
                )
            async with db.transaction() as session:
                tenant = await session.get(Tenant, settings.default_tenant)
                assert tenant is not None
                for target in targets(p, month):
                    await create_target(
                        session, tenant=tenant, body=target, author="bench", now=clock.now()
                    )
            clock.set(READ_AT)
            t0 = time.perf_counter()
            for start in range(0, len(month.events), 1000):
                batch = month.events[start : start + 1000]
                _ok(await client.post("/v1/events?source=crm", json=batch, headers=headers), 202)
            await _wait_scored(app, settings)
            took = time.perf_counter() - t0
            ctx.log(f"  {len(month.events):,} events ingested and scored in {took:.1f} s")
        async with db.transaction() as session:
            await session.execute(text("ANALYZE"))


# -- measuring ---------------------------------------------------------------------------


async def abba(
    calls: dict[str, Callable[[], Awaitable[object]]],
    *,
    rounds: int,
    budget_s: float,
    min_rounds: int,
) -> dict[str, harness.Timing]:
    """Rounds of A, B, C, C, B, A (one warm-up round first): two timed calls of each per
    round, in mirrored order, so a drift in the machine's speed hits every read alike."""
    order = list(calls)
    mirrored = order + order[::-1]
    for name in mirrored:
        await calls[name]()
    samples: dict[str, list[float]] = {name: [] for name in order}
    started = time.perf_counter()
    for r in range(rounds):
        for name in mirrored:
            t0 = time.perf_counter()
            await calls[name]()
            samples[name].append((time.perf_counter() - t0) * 1000)
        if r + 1 >= min_rounds and time.perf_counter() - started > budget_s:
            break
    return {name: harness.Timing(tuple(s)) for name, s in samples.items()}


class Mismatch(AssertionError):
    """The two reads disagree: the comparison would be worthless."""


def check(
    earnings: dict[str, Any],
    board: dict[str, Any],
    by_revenue: dict[str, Any],
    card: dict[str, Any],
    p: Plan,
) -> int:
    """Both reads cover the same reps; the full-month account managers' commission base is
    their revenue on the leaderboard ranked by revenue. Returns how many were compared."""
    reps = {rep_id(i) for i in range(p.reps)}
    got = {r["rep"] for r in earnings["reps"]}
    ranked = {r["rep_id"] for r in board["rows"]}
    if got != reps or ranked != reps:
        raise Mismatch(
            f"earnings cover {len(got)} reps, the leaderboard {len(ranked)}, of {p.reps}"
        )
    revenue = {r["rep_id"]: Decimal(str(r["kpi_actual"] or 0)) for r in by_revenue["rows"]}
    compared = 0
    for rep in earnings["reps"]:
        i = int(rep["rep"].split("-")[1]) - 1
        if role_of(i) != "account_manager" or switches(i):
            continue
        (line,) = [ln for ln in rep["lines"] if ln["component"] == "rev"]
        if Decimal(line["base"]) != revenue[rep["rep"]]:
            raise Mismatch(
                f"{rep['rep']}: commission base {line['base']} != leaderboard revenue "
                f"{revenue[rep['rep']]}"
            )
        compared += 1
    if card.get("scope") != f"team:{ROOT}":
        raise Mismatch(f"scorecard scope {card.get('scope')}")
    return compared


async def measure_db(
    ctx: harness.Context, name: str, settings: Settings, p: Plan
) -> dict[str, harness.Result]:
    """The API-only app on the seeded database, a read key, then the ABBA rounds."""
    label = {"postgresql": "PostgreSQL", "sqlite": "SQLite (embedded mode)"}[name]
    app = build_app(settings, parts={"api"}, clock=FixedClock(READ_AT))
    async with app.router.lifespan_context(app):
        db: Database = app.state.paceline.db
        key = generate_key()
        async with db.transaction() as session:
            await tenant_repo.add_key(
                session,
                tenant_id=settings.default_tenant,
                key=key,
                name="bench-read",
                scopes=["read"],
                now=datetime.now(UTC),
            )
        headers = {"Authorization": f"Bearer {key.plaintext}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://paceline.bench", timeout=600
        ) as client:

            def getter(path: str, params: dict[str, str]) -> Callable[[], Awaitable[Any]]:
                async def call() -> Any:
                    resp = await client.get(path, params=params, headers=headers)
                    if resp.status_code != 200:
                        raise RuntimeError(f"GET {path}: {resp.status_code} {resp.text[:500]}")
                    return resp

                return call

            calls = {
                "earnings": getter("/v1/earnings", {"scope": f"team:{ROOT}", "period": PERIOD}),
                "leaderboard": getter("/v1/leaderboard", {"team": ROOT, "period": PERIOD}),
                "scorecard": getter("/v1/scorecards", {"scope": f"team:{ROOT}", "period": PERIOD}),
            }
            bodies = {k: (await c()).json() for k, c in calls.items()}
            by_revenue = await getter(
                "/v1/leaderboard", {"team": ROOT, "period": PERIOD, "kpi": "revenue"}
            )()
            compared = check(
                bodies["earnings"], bodies["leaderboard"], by_revenue.json(), bodies["scorecard"], p
            )
            lines = sum(len(r["lines"]) for r in bodies["earnings"]["reps"])
            size = len((await calls["earnings"]()).content)
            ctx.note(
                f"{label}: the earnings response holds {len(bodies['earnings']['reps'])} reps, "
                f"{lines:,} lines, {len(bodies['earnings']['pools'])} pools ({size / 1e6:.1f} MB "
                f"of JSON), earned ¥{Decimal(bodies['earnings']['earned']):,.2f}, projected "
                f"¥{Decimal(bodies['earnings']['projected']):,.2f}; checked against the "
                f"leaderboard: {compared} full-month account managers' commission base = their "
                "revenue."
            )
            if ctx.profile is not None and ctx.profile in f"earnings.{name}":
                path = await harness.profile_calls(
                    calls["earnings"], calls=3, name=f"earnings.{name}.team"
                )
                if path is not None:
                    ctx.log(f"  profile: {path}")
            timings = await abba(
                calls, rounds=p.rounds, budget_s=p.budget_s, min_rounds=p.min_rounds
            )
    e, lb, sc = timings["earnings"], timings["leaderboard"], timings["scorecard"]
    table = f"{label}: through HTTP (ASGI, in-process), {p.reps} reps, month"
    results = {
        f"earnings.{name}.team_vs_leaderboard": harness.latency_result(
            e,
            lb,
            label=f"GET /v1/earnings team:{ROOT} ({p.reps} reps) vs GET /v1/leaderboard "
            f"team={ROOT} (baseline)",
            table=table,
        ),
        f"earnings.{name}.team_vs_scorecard": harness.latency_result(
            e,
            sc,
            label=f"GET /v1/earnings team:{ROOT} ({p.reps} reps) vs GET /v1/scorecards "
            f"scope=team:{ROOT} (baseline)",
            table=table,
        ),
    }
    for r in results.values():
        ctx.log(
            f"  {r['label']}: {r['value']:.1f} ms (p95 {r['p95']:.1f}) vs "
            f"{r['baseline']:.1f} ms -> x{r['ratio']} (n={r['n']})"
        )
    ctx.log(f"  scorecard / leaderboard medians: {sc.median:.1f} / {lb.median:.1f} ms")
    return results


async def bench_database(
    ctx: harness.Context, name: str, settings: Settings, p: Plan, month: Month
) -> dict[str, harness.Result]:
    """Migrate, seed, measure."""
    t0 = time.perf_counter()
    await asyncio.to_thread(upgrade, settings.effective_database_url)
    await seed(ctx, settings, p, month)
    ctx.log(f"{name}: seeded in {time.perf_counter() - t0:.1f} s")
    return await measure_db(ctx, name, settings, p)


def _settings(data_dir: Path, database_url: str | None) -> Settings:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        embedded_partitions=3,
        scoring_poll_timeout_s=0.05,
        rate_limit_per_s=0,  # the clock stands still: a token bucket would never refill
        log_level="WARNING",
    )


def run(ctx: harness.Context) -> dict[str, harness.Result]:
    """Generate the month, then seed and measure on SQLite and on PostgreSQL."""
    p = plan(ctx.quick)
    month = generate(p)
    kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(month.kinds.items()))
    ctx.log(f"generated {len(month.events):,} events for {p.reps} reps: {kinds}")
    ctx.note(
        f"Data: {p.teams} teams x {p.reps_per_team} reps under `{ROOT}`; "
        f"{len(month.events):,} unique events ({kinds}); up to {p.rounds} ABBA rounds per "
        f"database after a warm-up round (2 timed calls of each read per round), stopping "
        f"after {p.budget_s:g} s once {p.min_rounds} rounds are in (n says how many calls)."
    )
    results: dict[str, harness.Result] = {}
    sqlite_settings = _settings(ctx.tmp / "sqlite", None)
    results |= ctx.run_async(bench_database(ctx, "sqlite", sqlite_settings, p, month))
    pg_url = ctx.run_async(_create_pg_database(ctx.postgres(), "bench_earnings"))
    pg_settings = _settings(ctx.tmp / "postgresql", pg_url)
    results |= ctx.run_async(bench_database(ctx, "postgresql", pg_settings, p, month))
    return results
