"""Payments the way CRMs send them, through the pipeline and the API (both run modes).

Invoice INV-P arrives as cumulative versions (the CRM's 已回款 on one invoice record):
40,000 paid on 20 November, then 100,000 in all on 2 December, then a refund down to
70,000 on 10 December. November keeps its 40,000, December books the 60,000 increase and
the -30,000 refund on their days; the collection rate of invoices due in November counts
what has been collected on them to date.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tests.conftest import Clocked
from tests.support import Stack

NOW = datetime.fromisoformat("2026-12-15T12:00:00+08:00")
AS_OF = "2026-12-15T12:00:00+08:00"
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}],
    "reps": [{"id": "r1", "name": "Ann", "team_id": "north"}],
}


def invoice(version: int, amount_paid: str, paid_at: str) -> dict[str, Any]:
    """One version of INV-P as a CRM sends it: the amount paid on it so far."""
    return {
        "event_id": f"inv-p-v{version}",
        "type": "payment",
        "entity_id": "INV-P",
        "version": version,
        "occurred_at": paid_at,
        "rep_id": "r1",
        "invoice_id": "INV-P",
        "amount_due": "100000",
        "due_date": "2026-11-30",
        "amount_paid": amount_paid,
        "paid_at": paid_at,
    }


V1 = invoice(1, "40000", "2026-11-20T10:00:00+08:00")
V2 = invoice(2, "100000", "2026-12-02T10:00:00+08:00")
V3 = invoice(3, "70000", "2026-12-10T10:00:00+08:00")


async def post_scored(s: Stack, events: list[dict[str, Any]]) -> None:
    """POST events and wait until they are scored."""
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def actual(s: Stack, kpi: str, period: str) -> Decimal | None:
    """The company's ``actual`` of a KPI in a period (GET /v1/progress)."""
    resp = await s.client.get(
        "/v1/progress",
        params={"kpi": kpi, "scope": "company", "period": period, "as_of": AS_OF},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    value = resp.json()["actual"]
    return None if value is None else Decimal(value)


async def daily(s: Stack, kpi: str) -> dict[str, Decimal]:
    """A KPI per day from November to December (GET /v1/facts)."""
    resp = await s.client.get(
        "/v1/facts",
        params={"kpi": kpi, "from": "2026-11-01", "to": "2026-12-31", "group_by": "day"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    return {
        row["day"]: Decimal(row["value"])
        for row in resp.json()["rows"]
        if row["value"] is not None and Decimal(row["value"])
    }


async def test_cumulative_invoice_versions_book_each_change_on_its_day(
    clocked_both: Clocked,
) -> None:
    s, _clock = clocked_both
    await post_scored(s, [V1])
    assert await actual(s, "payments_collected", "2026-11") == Decimal(40000)
    assert await actual(s, "collection_rate", "2026-11") == Decimal("0.4")

    await post_scored(s, [V2])
    assert await actual(s, "payments_collected", "2026-11") == Decimal(40000)
    assert await actual(s, "payments_collected", "2026-12") == Decimal(60000)
    assert await daily(s, "payments_collected") == {
        "2026-11-20": Decimal(40000),
        "2026-12-02": Decimal(60000),
    }
    # invoices due in November: all of INV-P collected to date, still on its due date
    assert await actual(s, "collection_rate", "2026-11") == Decimal(1)
    assert await actual(s, "collection_rate", "2026-12") is None

    # a refund down to 70,000 is a negative booking on its own day; resends change nothing
    await post_scored(s, [V3, V1, V2])
    assert await daily(s, "payments_collected") == {
        "2026-11-20": Decimal(40000),
        "2026-12-02": Decimal(60000),
        "2026-12-10": Decimal(-30000),
    }
    assert await actual(s, "payments_collected", "2026-11") == Decimal(40000)
    assert await actual(s, "payments_collected", "2026-12") == Decimal(30000)
    assert await actual(s, "collection_rate", "2026-11") == Decimal("0.7")


async def test_versions_arriving_out_of_order_and_separate_instalments(
    clocked_both: Clocked,
) -> None:
    s, _clock = clocked_both
    # the newest version first, the older one late: the same bookings
    await post_scored(s, [V2])
    assert await daily(s, "payments_collected") == {"2026-12-02": Decimal(100000)}
    await post_scored(s, [V1])
    # and instalments sent as separate payment records book their own amounts
    instalments = [
        {
            **invoice(1, amount, paid_at),
            "event_id": f"inst-{i}",
            "entity_id": f"INV-Q-{i}",
            "invoice_id": "INV-Q",
        }
        for i, (amount, paid_at) in enumerate(
            [("5000", "2026-11-20T15:00:00+08:00"), ("2500", "2026-12-10T09:00:00+08:00")]
        )
    ]
    await post_scored(s, instalments)
    assert await daily(s, "payments_collected") == {
        "2026-11-20": Decimal(45000),
        "2026-12-02": Decimal(60000),
        "2026-12-10": Decimal(2500),
    }
