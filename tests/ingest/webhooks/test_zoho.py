"""Zoho CRM: notification callbacks -> canonical events -> facts; channel token; incomplete
inserts superseded by later notifications."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.ingest.webhooks.support import (
    counts,
    facts,
    fixture,
    fixture_source,
    get_mapping,
    post_webhook,
    progress,
    put_connector,
    put_mapping,
    quarantine,
    stored_events,
)
from tests.support import Stack

TOKEN = "TOKEN_FOR_VERIFICATION_OF_1000000068001"
ANNA, BEN = "3652397000000186017", "3652397000000186029"
D1 = "3652397000004044003"
FILES = [
    "deals_insert.json",
    "deals_update_amount.json",
    "deals_update_owner.json",
    "deals_update_won.json",
    "deals_insert_lost.json",
    "deals_insert_won_3.json",
    "deals_delete.json",
    "events_insert.json",
    "quotes_insert.json",
    "invoices_update_paid.json",
    "cases_insert.json",
]


async def zoho_connector(stack: Stack) -> str:
    """A Zoho connector (token and channel checked) with two owners mapped; its endpoint."""
    out = await put_connector(
        stack, "zoho", settings={"channel_id": "1000000068001"}, secrets={"token": TOKEN}
    )
    mapping = await get_mapping(stack, "zoho")
    mapping["owners"] = {ANNA: "r-anna", BEN: "r-ben"}
    await put_mapping(stack, "zoho", mapping)
    endpoint: str = out["endpoint_id"]
    return endpoint


async def send(stack: Stack, endpoint: str, name: str) -> dict[str, Any]:
    """POST a notification fixture (200 required)."""
    resp = await post_webhook(stack, "zoho", endpoint, fixture(f"zoho/{name}"))
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def test_every_fixture_names_its_documentation() -> None:
    for name in [*FILES, "deals_insert_no_owner.json", "deals_update_owner_completes.json"]:
        assert "zoho.com/crm/developer/docs" in fixture_source(f"zoho/{name}")


async def test_each_payload_kind_maps_to_the_expected_canonical_events(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint = await zoho_connector(s)
    for name in FILES:
        out = await send(s, endpoint, name)
        assert out["quarantined"] == 0, out
    await s.wait_scored()
    events = await stored_events(s, "zoho")
    assert events[f"zoho-Deals-{D1}-1793674800000-insert"] == {
        "event_id": f"zoho-Deals-{D1}-1793674800000-insert",
        "type": "deal",
        "occurred_at": "2026-11-03T03:00:00Z",
        "rep_id": "r-anna",
        "customer_id": "3652397000000624046",
        "entity_id": D1,
        "version": "2026-11-03T03:00:00Z",
        "deleted": False,
        "amount": "12000",
        "currency": "CNY",
        "stage": "open",
        "closed_at": "2026-11-28T12:00:00Z",
        "is_new_customer": True,
        "attributes": {"deal_name": "Hangzhou fit-out"},
    }
    amount = events[f"zoho-Deals-{D1}-1793934000000-update"]
    assert (amount["amount"], amount["rep_id"], amount["stage"]) == ("13000", "r-anna", "open")
    owner = events[f"zoho-Deals-{D1}-1794193200000-update"]
    assert (owner["amount"], owner["rep_id"]) == ("13000", "r-ben")
    won = events[f"zoho-Deals-{D1}-1795230000000-update"]
    assert (won["stage"], won["closed_at"], won["rep_id"]) == (
        "won",
        "2026-11-21T12:00:00Z",
        "r-ben",
    )
    lost = events["zoho-Deals-3652397000004044011-1795057200000-insert"]
    assert lost["stage"] == "lost"
    deleted = events["zoho-Deals-3652397000004044019-1795489200000-delete"]
    assert (deleted["deleted"], deleted["rep_id"]) == (True, "r-anna")
    visit = events["zoho-Events-3652397000005011001-1794542400000-insert"]
    assert (visit["type"], visit["channel"], visit["occurred_at"]) == (
        "visit",
        "onsite",
        "2026-11-13T10:00:00+08:00",
    )
    quote = events["zoho-Quotes-3652397000006022001-1794621600000-insert"]
    assert (quote["status"], quote["amount"]) == ("sent", "9000")
    invoice = events["zoho-Invoices-3652397000007033001-1795312800000-update"]
    assert (invoice["invoice_id"], invoice["amount_due"], invoice["amount_paid"]) == (
        "INV-0042",
        "9000",
        "9000",
    )
    assert (invoice["paid_at"], invoice["due_date"]) == ("2026-11-22T02:00:00Z", "2026-11-26")
    case = events["zoho-Cases-3652397000008044001-1794445200000-insert"]
    assert (case["type"], case["severity"], case["opened_at"]) == (
        "complaint",
        "High",
        "2026-11-12T09:00:00+08:00",
    )

    assert await facts(s, "revenue") == {("r-ben", "2026-11-21"): Decimal("13000")}
    assert await facts(s, "win_rate", "rep") == {("r-ben",): Decimal(1), ("r-anna",): Decimal(0)}
    assert await facts(s, "visits") == {("r-anna", "2026-11-13"): Decimal(1)}
    assert await facts(s, "quotes") == {("r-anna", "2026-11-14"): Decimal(1)}
    assert await facts(s, "payments_collected") == {("r-anna", "2026-11-22"): Decimal("9000")}
    # the case: 1 complaint per 1 active customer (Anna's quote, invoice and case are all
    # for Hangzhou Steel; her other deals name no account)
    assert await facts(s, "complaint_rate", "rep") == {
        ("r-anna",): Decimal(100),
        ("r-ben",): Decimal(0),
    }
    assert await quarantine(s) == []


async def test_a_wrong_token_or_channel_answers_401(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await zoho_connector(s)
    body = fixture("zoho/deals_insert.json")
    for bad in (
        body.replace(TOKEN.encode(), b"TOKEN_GUESS"),
        body.replace(b'1000000068001"', b'42"'),
    ):
        resp = await post_webhook(s, "zoho", endpoint, bad)
        assert resp.status_code == 401, resp.text
        assert TOKEN not in resp.text
    assert await counts(s) == (0, 0, 0)


async def test_the_token_is_not_kept_in_the_quarantine(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await zoho_connector(s)
    out = await send(s, endpoint, "deals_insert_no_owner.json")
    assert out["quarantined"] == 1
    (kept,) = await quarantine(s)
    detail = await s.client.get(f"/v1/quarantine/{kept['id']}", headers=s.auth())
    assert "token" not in detail.json()["item"]
    assert TOKEN not in detail.text


async def test_an_incomplete_insert_is_superseded_when_the_owner_arrives(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint = await zoho_connector(s)
    first = await send(s, endpoint, "deals_insert_no_owner.json")
    assert first["quarantined"] == 1
    (kept,) = await quarantine(s)
    assert kept["reason_code"] == "incomplete"
    assert "no owner" in kept["reason"]
    second = await send(s, endpoint, "deals_update_owner_completes.json")
    assert second["accepted"] == 1
    assert await quarantine(s) == []
    (superseded,) = await quarantine(s, status="superseded")
    assert superseded["id"] == kept["id"]
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-anna", "2026-11-25"): Decimal("500")}


async def test_zoho_end_to_end(stack: Stack) -> None:
    endpoint = await zoho_connector(stack)
    for name in ["deals_insert.json", "deals_update_won.json", "events_insert.json"]:
        await send(stack, endpoint, name)
    await stack.wait_scored()
    assert await progress(stack, "revenue") == Decimal("12000")
    assert await progress(stack, "visits") == Decimal(1)
