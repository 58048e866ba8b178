"""A deterministic workload of CRM events for end-to-end tests.

1,000 events: a scripted deal whose versions arrive out of order (created, won, amount
edited, moved back to open, reassigned and won by another rep, deleted), a second deal
that is reassigned and stays won, and a random mix of every event type with resends of
earlier ids. Resends keep their record (a CRM resends the same state).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _ts(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def scripted_deal() -> list[dict[str, Any]]:
    """One deal's life, in the order the versions are sent (not their version order)."""
    base = {"type": "deal", "entity_id": "deal-story", "customer_id": "c-story"}
    v = {
        1: {"stage": "open", "amount": "1000.00", "rep_id": "r1", "occurred_at": _ts(60)},
        2: {"stage": "won", "amount": "1000.00", "rep_id": "r1", "occurred_at": _ts(600)},
        3: {"stage": "won", "amount": "1500.00", "rep_id": "r1", "occurred_at": _ts(700)},
        4: {"stage": "open", "amount": "1500.00", "rep_id": "r1", "occurred_at": _ts(800)},
        5: {"stage": "won", "amount": "1500.00", "rep_id": "r2", "occurred_at": _ts(2000)},
        6: {
            "stage": "won",
            "amount": "1500.00",
            "rep_id": "r2",
            "occurred_at": _ts(2100),
            "deleted": True,
        },
    }
    order = [2, 1, 3, 5, 4, 6, 3]  # out of order, and v3 resent at the end
    return [{**base, **v[n], "event_id": f"deal-story-v{n}", "version": n} for n in order]


def kept_deal() -> list[dict[str, Any]]:
    """A deal reassigned from r1 to r3 after it was won; its latest version stays."""
    base = {"type": "deal", "entity_id": "deal-kept", "customer_id": "c-kept"}
    return [
        {
            **base,
            "event_id": "deal-kept-v2",
            "version": 2,
            "stage": "won",
            "amount": "800",
            "rep_id": "r3",
            "occurred_at": _ts(3000),
            "closed_at": _ts(2900),
        },
        {
            **base,
            "event_id": "deal-kept-v1",
            "version": 1,
            "stage": "won",
            "amount": "800",
            "rep_id": "r1",
            "occurred_at": _ts(2950),
        },
    ]


def workload(n: int = 1000, seed: int = 20261126) -> list[dict[str, Any]]:
    """``n`` events in send order."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = [*scripted_deal(), *kept_deal()]
    reps = ["r1", "r2", "r3", "r4", "r-unknown"]
    i = 0
    while len(events) < n:
        i += 1
        if rng.random() < 0.08:
            events.append(dict(rng.choice(events)))  # a resend
            continue
        kind = rng.choices(["visit", "deal", "quote", "payment", "lead"], [5, 3, 2, 1, 1])[0]
        minute = rng.randrange(0, 60 * 24 * 14)
        ev: dict[str, Any] = {
            "event_id": f"w-{i}",
            "type": kind,
            "occurred_at": _ts(minute),
            "rep_id": rng.choice(reps),
            "customer_id": f"c{rng.randrange(1, 30)}",
        }
        if kind == "visit":
            ev["channel"] = rng.choice(["onsite", "phone", "video"])
        elif kind == "deal":
            ev["entity_id"] = f"deal-{rng.randrange(1, 80)}"
            ev["version"] = rng.randrange(1, 6)
            ev["stage"] = rng.choice(["open", "won", "won", "lost"])
            ev["amount"] = str(rng.randrange(1, 500) * 100)
            if rng.random() < 0.1:
                ev["deleted"] = True
        elif kind == "quote":
            ev["entity_id"] = f"quote-{rng.randrange(1, 40)}"
            ev["version"] = rng.randrange(1, 4)
            ev["status"] = rng.choice(["sent", "accepted", "rejected"])
            ev["amount"] = str(rng.randrange(1, 500) * 100)
        elif kind == "payment":
            ev["amount_paid"] = str(rng.randrange(1, 100) * 10)
            ev["paid_at"] = _ts(minute)
        else:
            ev["is_new_customer"] = rng.random() < 0.5
        events.append(ev)
    return events[:n]
