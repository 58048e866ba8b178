"""Statements equal a recomputation from the raw events and the plan (both run modes).

Hypothesis draws a November for two or three reps in a fresh tenant each example: deal
records with one to three versions (won, lost or open, amounts, a rep that may change,
some deleted, closed near midnight around the month's ends), sent in a shuffled order
with some resends; part of them arrive only after the month is closed. A plan pays a
commission on revenue (marginal or retroactive, random tiers) and a bonus on revenue
(random curve, defaults from the targets' baseline and stretch); some reps are on it by
role for the whole month, others by their own assignment from a day in the month (pro
rata). The test posts the events, closes November, generates the statements, and checks
every line and total against a recount written here from scratch: the latest version of
each record received by the close, won deals booked on their Shanghai day, summed per
rep; the tier table sliced in Fractions and the curve interpolated in Fractions; each
line rounded half up to the fen, the total the sum of its lines.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.settings import Settings
from tests.conftest import Clocked
from tests.strategies import curves, fixed, tier_tables
from tests.support import Stack, running_stack

TZ = ZoneInfo("Asia/Shanghai")
NOV = (date(2026, 11, 1), date(2026, 12, 1))
DAYS = (NOV[1] - NOV[0]).days
SETUP = datetime(2026, 10, 20, 10, 0, tzinfo=TZ)
RECEIVED = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
CLOSED = datetime(2026, 12, 2, 9, 0, tzinfo=TZ)
LATE = datetime(2026, 12, 3, 9, 0, tzinfo=TZ)
REPS = ["r1", "r2", "r3"]
F = Fraction


@pytest.fixture
async def clocked_modes(mode_settings: tuple[str, Settings]) -> AsyncIterator[Clocked]:
    """One stack per run mode on a fixed clock, shared by the examples (each its tenant)."""
    mode, s = mode_settings
    clock = FixedClock(SETUP)
    async with running_stack(mode, s, clock=clock) as stack:
        yield stack, clock


# -- the scenario --------------------------------------------------------------------------


def _closed_at(day_offset: int, minute: int) -> str:
    """A Shanghai time near midnight: ``day_offset`` days after 31 October."""
    local = datetime(2026, 10, 31, tzinfo=TZ) + timedelta(days=day_offset, minutes=minute)
    return local.astimezone(UTC).isoformat()


@st.composite
def deal_versions(draw: st.DrawFn, *, index: int, reps: list[str]) -> list[dict[str, Any]]:
    """The versions of one deal record (distinct version numbers)."""
    numbers = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3, unique=True))
    out = []
    for n in numbers:
        # day 0 = 31 October, 1..30 = November, 31 = 1 December; a minute before or
        # after midnight (local) or mid-day.
        day = draw(st.sampled_from([0, 1, 2, 15, 29, 30, 31, *range(1, 31)]))
        minute = draw(st.sampled_from([-1, 1, 12 * 60]))
        ev: dict[str, Any] = {
            "event_id": f"d{index}-v{n}",
            "type": "deal",
            "entity_id": f"d{index}",
            "version": n,
            "occurred_at": _closed_at(day, minute),
            "closed_at": _closed_at(day, minute),
            "rep_id": draw(st.sampled_from(reps)),
            "customer_id": f"c{index}",
            "stage": draw(st.sampled_from(["won", "won", "won", "lost", "open"])),
            "amount": str(draw(fixed(2, 0, 60_000))),
        }
        if draw(st.integers(0, 7)) == 0:
            ev["deleted"] = True
        out.append(ev)
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Reps, targets, a plan, assignments, and the events in arrival order."""
    reps = REPS[: draw(st.integers(2, 3))]
    own_from = {r: draw(st.one_of(st.none(), st.integers(2, DAYS))) for r in reps}
    targets: dict[str, tuple[Decimal, Decimal | None, Decimal | None]] = {}
    for r in reps:
        if draw(st.integers(0, 5)) == 0:
            continue  # no target: the first tier's rate, no bonus
        target = draw(fixed(2, 1000, 150_000))
        baseline = (
            (target * draw(fixed(2, Decimal("0.5"), 1))).quantize(Decimal("0.01"))
            if draw(st.booleans())
            else None
        )
        stretch = (
            (target * draw(fixed(2, 1, 2))).quantize(Decimal("0.01"))
            if draw(st.booleans())
            else None
        )
        targets[r] = (target, baseline, stretch)
    mode = draw(st.sampled_from(["marginal", "retroactive"]))
    plan = {
        "key": "p",
        "name_zh": "激励",
        "name_en": "Incentive",
        "components": [
            {
                "type": "commission",
                "key": "rev",
                "kpi": "revenue",
                "mode": mode,
                "tiers": draw(tier_tables(mode=mode)),
            },
            {
                "type": "bonus",
                "key": "attain",
                "basis": "revenue",
                "amount": str(draw(fixed(2, 0, 20_000))),
                **draw(curves()),
            },
        ],
    }
    versions: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 8))):
        versions.extend(draw(deal_versions(index=i, reps=reps)))
    arrivals = draw(st.permutations(versions))
    for _ in range(draw(st.integers(0, 2))):
        if arrivals:  # a resend, later
            at = draw(st.integers(0, len(arrivals)))
            arrivals.insert(at, dict(draw(st.sampled_from(arrivals))))
    cut = draw(st.integers(len(arrivals) // 2, len(arrivals))) if arrivals else 0
    split = draw(st.integers(0, cut))
    return {
        "reps": reps,
        "own_from": own_from,
        "targets": targets,
        "plan": plan,
        "batches": [arrivals[:split], arrivals[split:cut]],
        "late": arrivals[cut:],
    }


# -- the recount ---------------------------------------------------------------------------


def half_up(x: Fraction) -> Fraction:
    """Half away from zero at the fen (四舍五入)."""
    n = math.floor(abs(x) * 100 + F(1, 2))
    return F(n if x >= 0 else -n, 100)


def revenue_by_day(received: list[dict[str, Any]]) -> dict[str, dict[date, Fraction]]:
    """Won deals of November per rep and Shanghai day: the latest version of each record
    (the first arrival of an event id counts; a deleted latest version counts nothing)."""
    first: dict[str, dict[str, Any]] = {}
    for ev in received:
        first.setdefault(ev["event_id"], ev)
    latest: dict[str, dict[str, Any]] = {}
    for ev in first.values():
        have = latest.get(ev["entity_id"])
        if have is None or ev["version"] > have["version"]:
            latest[ev["entity_id"]] = ev
    out: dict[str, dict[date, Fraction]] = {}
    for ev in latest.values():
        if ev.get("deleted") or ev["stage"] != "won":
            continue
        day = datetime.fromisoformat(ev["closed_at"]).astimezone(TZ).date()
        if NOV[0] <= day < NOV[1]:
            days = out.setdefault(ev["rep_id"], {})
            days[day] = days.get(day, F(0)) + F(Decimal(ev["amount"]))
    return out


def commission(amount: Fraction, quota: Fraction | None, plan: dict[str, Any]) -> Fraction:
    """The tier table on the month's amount: slices (marginal) or the reached rate."""
    tiers = [(F(Decimal(t["from"])), F(Decimal(t["rate"]))) for t in plan["tiers"]]
    if quota is None or amount <= 0:
        return amount * tiers[0][1]
    if plan["mode"] == "retroactive":
        att = amount / quota
        return amount * [rate for start, rate in tiers if att >= start][-1]
    ends = [start * quota for start, _r in tiers[1:]] + [amount]
    return sum(
        (
            (min(amount, hi) - start * quota) * rate
            for (start, rate), hi in zip(tiers, ends, strict=True)
            if amount > start * quota
        ),
        F(0),
    )


def curve(
    c: dict[str, Any], att: Fraction | None, base: Fraction | None, top: Fraction | None
) -> Fraction:
    """The fraction of the bonus paid at an attainment (docs/INCENTIVES.md, the curve)."""
    if att is None:
        return F(0)

    def get(key: str) -> Fraction | None:
        return F(Decimal(c[key])) if key in c else None

    threshold = get("threshold")
    if threshold is None and base is not None and 0 <= base < 1:
        threshold = base
    stretch = get("stretch")
    if stretch is None:
        stretch = top
    if threshold is None:
        points = [(F(0), F(0))]
    else:
        paid = get("threshold_payout")
        points = [(threshold, threshold if paid is None else paid)]
    points.append((F(1), F(1)))
    if stretch is not None and stretch > 1:
        paid = get("stretch_payout")
        points.append((stretch, max(stretch if paid is None else paid, F(1))))
    if att < points[0][0]:
        return F(0)
    (a0, p0), (a1, p1) = points[-2], points[-1]
    slope = get("accelerator")
    value = p1 + (slope if slope is not None else (p1 - p0) / (a1 - a0)) * (att - a1)
    for (a0, p0), (a1, p1) in pairwise(points):
        if att < a1:
            value = p0 + (p1 - p0) * (att - a0) / (a1 - a0)
            break
    cap = get("cap")
    if cap is not None:
        value = min(value, cap)
    return max(value, F(0))


def expected_lines(
    sc: dict[str, Any], received: list[dict[str, Any]]
) -> dict[str, dict[str, Fraction]]:
    """Per rep: the commission and bonus lines, rounded, from the events and the plan."""
    revenue = revenue_by_day(received)
    commission_c, bonus_c = sc["plan"]["components"]
    out = {}
    for rep in sc["reps"]:
        days = revenue.get(rep, {})
        total = sum(days.values(), F(0))
        start = NOV[0] + timedelta(days=(sc["own_from"][rep] or 1) - 1)
        part = sum((v for d, v in days.items() if d >= start), F(0))
        share = F((NOV[1] - start).days, DAYS)
        target = sc["targets"].get(rep)
        quota = F(target[0]) if target else None
        paid = commission(total, quota, commission_c)
        exact_c = paid if part == total else (paid * part / total if total else F(0))
        att = total / quota if quota else None
        base = F(target[1]) / quota if quota and target[1] is not None else None
        top = F(target[2]) / quota if quota and target[2] is not None else None
        exact_b = F(Decimal(bonus_c["amount"])) * curve(bonus_c, att, base, top) * share
        out[rep] = {"rev": half_up(exact_c), "attain": half_up(exact_b)}
    return out


# -- the test ------------------------------------------------------------------------------


async def _ok(resp: Any, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


async def _tenant_key(s: Stack) -> str:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.ensure_tenant(session, tenant_id=tenant, name=tenant, now=s.now())
        await tenant_repo.add_key(
            session, tenant_id=tenant, key=key, name="t", scopes=["admin"], now=s.now()
        )
    return key.plaintext


async def _post_events(s: Stack, key: str, events: list[dict[str, Any]]) -> None:
    if events:
        await _ok(await s.post_events(events, key=key), 202)
    await s.wait_scored()


@pytest.mark.timeout(900)
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
    max_examples=25,
)
@given(sc=scenarios())
async def test_statements_equal_a_recount_from_the_events_and_the_plan(
    clocked_modes: Clocked, sc: dict[str, Any]
) -> None:
    s, clock = clocked_modes
    clock.set(SETUP)
    key = await _tenant_key(s)
    auth = s.auth(key)
    reps = sc["reps"]
    org = {
        "teams": [{"id": "t", "name": "T"}],
        "reps": [
            {"id": r, "name": r, "team_id": "t", "role": "new" if sc["own_from"][r] else "ae"}
            for r in reps
        ],
    }
    await _ok(await s.client.put("/v1/org", json=org, headers=auth))
    for rep, (target, baseline, stretch) in sc["targets"].items():
        body: dict[str, Any] = {
            "kpi": "revenue",
            "scope": f"rep:{rep}",
            "period": "2026-11",
            "target": str(target),
        }
        if baseline is not None:
            body["baseline"] = str(baseline)
        if stretch is not None:
            body["stretch"] = str(stretch)
        await _ok(await s.client.post("/v1/targets", json=body, headers=auth), 201)
    await _ok(await s.client.post("/v1/incentive-plans", json=sc["plan"], headers=auth), 201)
    assignments: list[dict[str, Any]] = [{"plan": "p", "role": "ae", "valid_from": "2026-10-01"}]
    for rep in reps:
        if sc["own_from"][rep]:
            day = NOV[0] + timedelta(days=sc["own_from"][rep] - 1)
            assignments.append({"plan": "p", "rep": rep, "valid_from": day.isoformat()})
    for a in assignments:
        await _ok(await s.client.post("/v1/incentive-assignments", json=a, headers=auth), 201)

    for i, batch in enumerate(sc["batches"]):
        clock.set(RECEIVED + timedelta(minutes=i))
        await _post_events(s, key, batch)
    clock.set(CLOSED)
    await _ok(await s.client.post("/v1/closes", json={"period": "2026-11"}, headers=auth), 201)
    clock.set(LATE)
    await _post_events(s, key, sc["late"])
    out = await _ok(await s.client.post("/v1/statements", json={"period": "2026-11"}, headers=auth))

    want = expected_lines(sc, [ev for batch in sc["batches"] for ev in batch])
    statements = {st["rep"]: st for st in out["statements"]}
    assert sorted(statements) == sorted(reps)
    for rep, st_ in statements.items():
        got: dict[str, Fraction] = {}
        for line in st_["lines"]:
            assert line["kind"] in {"commission", "bonus"}, line
            got[line["component"]] = got.get(line["component"], F(0)) + F(Decimal(line["amount"]))
        assert got == want[rep], (rep, sc, st_["lines"])
        assert F(Decimal(st_["total"])) == sum(want[rep].values(), F(0))
        assert Decimal(st_["total"]) == sum(Decimal(ln["amount"]) for ln in st_["lines"])
    assert F(Decimal(out["total"])) == sum(
        (v for lines in want.values() for v in lines.values()), F(0)
    )
