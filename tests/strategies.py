"""Shared Hypothesis strategies: random but realistic CRM event histories.

Histories mix every event type with repeated event ids (resends, sometimes with other
content), out-of-order and equal versions, integer and timestamp versions, stage changes
and reverts, reassignment to another rep, deletes and undeletes, late events, several
currencies, and times near midnight in the tenant's zone and across a month boundary.
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
            ev["amount_paid"] = str(draw(st.sampled_from([Decimal("100"), Decimal("40.1")])))
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
