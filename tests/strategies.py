"""Shared Hypothesis strategies: random but realistic CRM event histories.

Histories mix every event type with repeated event ids (resends, sometimes with other
content), out-of-order and equal versions, integer and timestamp versions, stage changes
and reverts, reassignment to another rep, deletes and undeletes, late events, cumulative
payments going up and down, several currencies, and times near midnight in the tenant's
zone and across a month boundary.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

BASE = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
REPS = ["r1", "r2", "r3"]
CUSTOMERS = ["c1", "c2", "c3", "c4"]
AMOUNTS = [Decimal("0"), Decimal("99.99"), Decimal("1000"), Decimal("12345.675"), Decimal("-50")]


def _ts(offset_half_hours: int) -> str:
    return (BASE + timedelta(minutes=30 * offset_half_hours)).isoformat()


@st.composite
def event_dicts(draw: st.DrawFn, *, index: int) -> dict[str, Any]:
    """One canonical event as a JSON-ready dict."""
    etype = draw(
        st.sampled_from(
            [
                "deal",
                "deal",
                "deal",
                "visit",
                "quote",
                "lead",
                "payment",
                "complaint",
                "training",
                "survey",
            ]
        )
    )
    occurred = draw(st.integers(-120, 120))
    ev: dict[str, Any] = {
        "event_id": f"e{index}",
        "type": etype,
        "occurred_at": _ts(occurred),
        "rep_id": draw(st.sampled_from(REPS)),
    }
    if draw(st.booleans()):
        ev["customer_id"] = draw(st.sampled_from(CUSTOMERS))
    # Records: a small pool per type so versions collide; visits are often standalone.
    if etype != "visit" or draw(st.booleans()):
        ev["entity_id"] = f"{etype}-{draw(st.integers(1, 3))}"
        version = draw(
            st.one_of(
                st.integers(1, 6),
                st.integers(-120, 120).map(lambda h: _ts(h)),
                st.none(),
            )
        )
        if version is not None:
            ev["version"] = version
    if draw(st.integers(0, 9)) == 0:
        ev["deleted"] = True
    if draw(st.booleans()):
        ev["amount"] = str(draw(st.sampled_from(AMOUNTS)))
        currency = draw(st.sampled_from([None, None, "CNY", "USD", "EUR"]))
        if currency:
            ev["currency"] = currency
    if etype == "deal":
        ev["stage"] = draw(st.sampled_from(["open", "won", "won", "lost"]))
        if draw(st.booleans()):
            ev["closed_at"] = _ts(draw(st.integers(-120, 120)))
        if draw(st.booleans()):
            ev["margin"] = str(draw(st.sampled_from([Decimal("10"), Decimal("250.5")])))
        if draw(st.booleans()):
            ev["is_new_customer"] = draw(st.booleans())
        if draw(st.booleans()):
            ev["product_line"] = draw(st.sampled_from(["saas", "hardware"]))
    elif etype == "visit":
        ev["channel"] = draw(st.sampled_from(["onsite", "phone", "video"]))
    elif etype == "quote":
        ev["status"] = draw(st.sampled_from(["sent", "accepted", "rejected"]))
    elif etype == "lead":
        ev["is_new_customer"] = draw(st.booleans())
    elif etype == "payment":
        if draw(st.booleans()):
            ev["amount_due"] = str(draw(st.sampled_from([Decimal("100"), Decimal("2500.25")])))
            ev["due_date"] = (
                date(2026, 11, 28) + timedelta(days=draw(st.integers(0, 5)))
            ).isoformat()
        if draw(st.booleans()):
            # cumulative per invoice: versions go up, down (a refund) and back to 0
            paid = [Decimal("0"), Decimal("40.1"), Decimal("100"), Decimal("150")]
            ev["amount_paid"] = str(draw(st.sampled_from(paid)))
            if draw(st.integers(0, 3)):
                ev["paid_at"] = _ts(draw(st.integers(-120, 120)))
    elif etype == "complaint":
        opened = draw(st.integers(-120, 100))
        ev["opened_at"] = _ts(opened)
        if draw(st.booleans()):
            ev["first_response_at"] = _ts(opened + draw(st.integers(0, 20)))
    elif etype == "training":
        if draw(st.booleans()):
            ev["passed"] = draw(st.booleans())
    elif etype == "survey":
        ev["score"] = draw(st.integers(1, 5))
    return ev


@st.composite
def histories(draw: st.DrawFn, *, max_events: int = 40) -> list[dict[str, Any]]:
    """A log of events in arrival order; some ids are resent, some with new content."""
    n = draw(st.integers(1, max_events))
    out: list[dict[str, Any]] = []
    for i in range(n):
        if out and draw(st.integers(0, 6)) == 0:
            earlier = draw(st.sampled_from(out))
            if draw(st.booleans()):
                out.append(dict(earlier))  # a plain resend
            else:  # the same id with other content: the first one must win
                changed = draw(event_dicts(index=i))
                changed["event_id"] = earlier["event_id"]
                out.append(changed)
            continue
        out.append(draw(event_dicts(index=i)))
    return out


def batches(draw: st.DrawFn, n: int) -> list[tuple[int, int]]:
    """Split n log records into consecutive batches [lo, hi)."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=6))))
    bounds = [0, *[c for c in cuts if 0 < c < n], n]
    return list(itertools.pairwise(bounds))


# -- formulas ----------------------------------------------------------------------------

NUMERIC_BY_TYPE: dict[str, list[str]] = {
    "deal": ["amount", "margin"],
    "payment": ["amount_paid", "amount_due", "days_to_pay"],
    "complaint": ["response_hours"],
    "survey": ["score"],
    "visit": ["amount"],
    "quote": ["amount"],
}
DISTINCT_BY_TYPE: dict[str, list[str]] = {
    "deal": ["customer_id", "rep_id", "product_line"],
    "visit": ["customer_id", "channel"],
    "any": ["customer_id", "rep_id"],
    "quote": ["customer_id", "status"],
}
CONDITIONS: dict[str, list[str]] = {
    "deal": [
        'stage == "won"',
        'stage in ("won", "lost")',
        "is_new_customer",
        'product_line != "saas"',
        "amount > 500",
        "margin is not null",
        'not (stage == "open")',
        'currency == "USD"',
    ],
    "visit": ['channel == "onsite"', "customer_id is null", 'channel in ("phone", "video")'],
    "quote": ['status == "accepted"', "amount >= 1000"],
    "payment": ["amount_due is not null", "amount_paid > 50"],
    "complaint": ["first_response_at is not null"],
    "survey": ["score >= 4"],
    "training": ["passed", "not passed"],
    "lead": ["is_new_customer"],
}
BY_FIELDS: dict[str, list[str]] = {
    "deal": ["occurred_at", "closed_at"],
    "payment": ["due_date", "paid_at"],
    "complaint": ["opened_at", "first_response_at"],
}


@st.composite
def aggregates(draw: st.DrawFn, *, allow_avg: bool = True) -> str:
    """One aggregate of the formula language, always valid."""
    kinds = ["count", "sum", "distinct"] + (["avg"] if allow_avg else [])
    kind = draw(st.sampled_from(kinds))
    if kind in {"sum", "avg"}:
        source = draw(st.sampled_from(sorted(NUMERIC_BY_TYPE)))
        head = f"{kind}({source}.{draw(st.sampled_from(NUMERIC_BY_TYPE[source]))}"
    elif kind == "distinct":
        source = draw(st.sampled_from(sorted(DISTINCT_BY_TYPE)))
        head = f"distinct({source}.{draw(st.sampled_from(DISTINCT_BY_TYPE[source]))}"
    else:
        source = draw(st.sampled_from(sorted(CONDITIONS)))
        head = f"count({source}"
    if source in CONDITIONS and draw(st.booleans()):
        conds = draw(st.lists(st.sampled_from(CONDITIONS[source]), min_size=1, max_size=2))
        head += " where " + draw(st.sampled_from([" and ", " or "])).join(conds)
    if source in BY_FIELDS and draw(st.booleans()):
        head += f" by {draw(st.sampled_from(BY_FIELDS[source]))}"
    return head + ")"


@st.composite
def formulas(draw: st.DrawFn) -> str:
    """A random valid KPI formula: an aggregate, a ratio of two, maybe a factor."""
    if draw(st.booleans()):
        text = f"ratio({draw(aggregates(allow_avg=False))}, {draw(aggregates(allow_avg=False))})"
    else:
        text = draw(aggregates())
    if draw(st.integers(0, 3)) == 0:
        text += " * 100"
    return text


# -- incentive plans ---------------------------------------------------------------------
# Values with few decimals, so that the engine's Decimal arithmetic stays exact and the
# tests can compare it with recounts in Fractions.

KNOWN_KPIS: dict[str, str] = {
    "revenue": "additive",
    "payments_collected": "additive",
    "new_customers": "additive",
    "complaints": "additive",
    "collection_rate": "ratio",
}


def fixed(places: int, lo: int | Decimal, hi: int | Decimal) -> st.SearchStrategy[Decimal]:
    """Decimals in [lo, hi] with exactly ``places`` decimals."""
    scale = 10**places
    return st.integers(int(lo * scale), int(hi * scale)).map(lambda n: Decimal(n).scaleb(-places))


@st.composite
def tier_tables(
    draw: st.DrawFn, *, mode: str = "marginal", max_tiers: int = 5
) -> list[dict[str, str]]:
    """A commission tier table that check_plan accepts: starts from 0, increasing;
    retroactive rates never decrease."""
    starts = draw(st.lists(fixed(2, Decimal("0.01"), 3), max_size=max_tiers - 1, unique=True))
    rates = draw(
        st.lists(fixed(4, 0, Decimal("0.3")), min_size=len(starts) + 1, max_size=len(starts) + 1)
    )
    if mode == "retroactive":
        rates.sort()
    return [
        {"from": str(s), "rate": str(r)}
        for s, r in zip([Decimal(0), *sorted(starts)], rates, strict=True)
    ]


@st.composite
def curves(draw: st.DrawFn) -> dict[str, str]:
    """The curve fields of a bonus or pool that check_plan accepts (any may be left out)."""
    out: dict[str, str] = {}
    if draw(st.booleans()):
        out["threshold"] = str(draw(fixed(2, 0, Decimal("0.99"))))
        if draw(st.booleans()):
            out["threshold_payout"] = str(draw(fixed(2, 0, 1)))
    if draw(st.booleans()):
        out["stretch"] = str(draw(fixed(2, Decimal("1.01"), 3)))
        if draw(st.booleans()):
            out["stretch_payout"] = str(draw(fixed(2, 1, 4)))
    if draw(st.booleans()):
        out["accelerator"] = str(draw(fixed(2, 0, 5)))
    if draw(st.booleans()):
        floor = max(
            Decimal(out.get("threshold_payout", 1)),
            Decimal(out.get("stretch_payout", 1)),
            Decimal(1),
        )
        out["cap"] = str(floor + draw(fixed(2, 0, 3)))
    return out


@st.composite
def paying_plans(draw: st.DrawFn, *, mode: str | None = None) -> dict[str, Any]:
    """A plan body (JSON) with a commission on revenue, a revenue bonus and a spiff."""
    mode = mode or draw(st.sampled_from(["marginal", "retroactive"]))
    return {
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
                "amount": str(draw(fixed(2, 0, 20000))),
                **draw(curves()),
            },
            {
                "type": "spiff",
                "key": "newcust",
                "kpi": "new_customers",
                "amount": str(draw(fixed(2, 0, 1000))),
                "start": "2026-12-01",
                "end": "2026-12-31",
            },
        ],
    }
