"""Salesforce: Outbound Messages (SOAP, acknowledged) and CDC events -> canonical events ->
facts; org id and Standard Webhooks checks; gap events kept for reconciliation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from standardwebhooks import Webhook

from tests.ingest.webhooks.support import (
    counts,
    facts,
    fixture,
    fixture_source,
    get_mapping,
    now,
    post_webhook,
    progress,
    put_connector,
    put_mapping,
    quarantine,
    stored_events,
)
from tests.support import Stack

ORG = "00D5e000000KQ2eEAG"
ANNA, BEN = "0055e000001AbcdAAA", "0055e000001EfghAAA"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XML = "text/xml; charset=utf-8"
OUTBOUND_FILES = [
    "om_opportunity_created.xml",
    "om_opportunity_amount_changed.xml",
    "om_opportunity_owner_changed.xml",
    "om_opportunities_won_and_lost.xml",
    "om_event_visit.xml",
    "om_quote_presented.xml",
    "om_case_complaint.xml",
]
CDC_FILES = [
    "cdc_opportunity_create.json",
    "cdc_opportunity_update_lost.json",
    "cdc_opportunity_won_then_deleted.json",
]


async def salesforce_connector(stack: Stack) -> tuple[str, str]:
    """A Salesforce connector with two owners mapped: (endpoint id, generated CDC secret)."""
    out = await put_connector(stack, "salesforce", settings={"organization_id": ORG})
    secret: str = out["generated_secrets"]["cdc_secret"]
    assert secret.startswith("whsec_")
    assert out["secrets"] == {"cdc_secret": "[redacted]"}
    mapping = await get_mapping(stack, "salesforce")
    mapping["owners"] = {ANNA: "r-anna", BEN: "r-ben"}
    await put_mapping(stack, "salesforce", mapping)
    return out["endpoint_id"], secret


async def send_outbound(stack: Stack, endpoint: str, name: str) -> httpx.Response:
    """POST an outbound message fixture (200 required)."""
    resp = await post_webhook(
        stack, "salesforce", endpoint, fixture(f"salesforce/{name}"), content_type=XML
    )
    assert resp.status_code == 200, resp.text
    return resp


def cdc_headers(secret: str, body: bytes, msg_id: str, minutes_ago: int = 0) -> dict[str, str]:
    """Standard Webhooks headers signed with the reference library."""
    at = now() - timedelta(minutes=minutes_ago)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


async def send_cdc(stack: Stack, endpoint: str, secret: str, name: str) -> dict[str, Any]:
    """POST a signed CDC fixture (200 required)."""
    body = fixture(f"salesforce/{name}")
    resp = await post_webhook(stack, "salesforce", endpoint, body, cdc_headers(secret, body, name))
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def assert_ack(resp: httpx.Response) -> None:
    """The documented acknowledgement: Envelope/Body/notificationsResponse/Ack = true."""
    assert resp.headers["content-type"].startswith("text/xml")
    root = fromstring(resp.content)
    assert root.tag == f"{{{SOAP}}}Envelope"
    (body,) = list(root)
    assert body.tag == f"{{{SOAP}}}Body"
    (response,) = list(body)
    assert response.tag == f"{{{OUTBOUND}}}notificationsResponse"
    (ack,) = list(response)
    assert ack.tag == f"{{{OUTBOUND}}}Ack"
    assert ack.text == "true"


def test_every_fixture_names_its_documentation() -> None:
    for name in [*OUTBOUND_FILES, *CDC_FILES, "cdc_gap.json"]:
        assert "developer.salesforce.com" in fixture_source(f"salesforce/{name}")


async def test_each_payload_kind_maps_to_the_expected_canonical_events(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint, secret = await salesforce_connector(s)
    for name in OUTBOUND_FILES:
        assert_ack(await send_outbound(s, endpoint, name))
    for name in CDC_FILES:
        out = await send_cdc(s, endpoint, secret, name)
        assert out["quarantined"] == 0, out
    await s.wait_scored()
    events = await stored_events(s, "salesforce")
    assert events["sf-om-04l5e00000Gx7QzAA1"] == {
        "event_id": "sf-om-04l5e00000Gx7QzAA1",
        "type": "deal",
        "occurred_at": "2026-11-03T02:00:00Z",
        "rep_id": "r-anna",
        "customer_id": "0015e00000ZkM3hAAF",
        "entity_id": "0065e00000A1b2cAAA",
        "version": "2026-11-03T02:00:00Z",
        "deleted": False,
        "amount": "20000.00",
        "currency": "CNY",
        "stage": "open",
        "closed_at": "2026-11-30T12:00:00Z",
        "is_new_customer": True,
        "attributes": {"opportunity_name": "Acme - 200 seats"},
    }
    assert events["sf-om-04l5e00000Gx7QzAA2"]["amount"] == "22000.00"
    assert events["sf-om-04l5e00000Gx7QzAA3"]["rep_id"] == "r-ben"
    won = events["sf-om-04l5e00000Gx7QzAA4"]
    assert (won["stage"], won["closed_at"], won["rep_id"]) == (
        "won",
        "2026-11-18T12:00:00Z",
        "r-ben",
    )
    lost = events["sf-om-04l5e00000Gx7QzAA5"]
    assert (lost["stage"], lost["is_new_customer"], lost["entity_id"]) == (
        "lost",
        False,
        "0065e00000B2c3dAAA",
    )
    visit = events["sf-om-04l5e00000Gx7QzAA6"]
    assert (visit["type"], visit["channel"], visit["occurred_at"], visit["duration_min"]) == (
        "visit",
        "onsite",
        "2026-11-12T01:00:00Z",
        "90",
    )
    quote = events["sf-om-04l5e00000Gx7QzAA7"]
    assert (quote["type"], quote["status"], quote["amount"]) == ("quote", "sent", "15000.00")
    case = events["sf-om-04l5e00000Gx7QzAA8"]
    assert (case["type"], case["severity"], case["opened_at"]) == (
        "complaint",
        "High",
        "2026-11-13T02:00:00Z",
    )
    created = events["sf-cdc-0002343d-9d90-e395-ed20-cf416ba652ad-1-0065e00000C3d4eAAA"]
    assert (created["stage"], created["amount"], created["version"]) == (
        "open",
        "5000.0",
        "2026-11-04T03:00:00.000001Z",
    )
    # the update carried only the stage: the snapshot supplies owner and amount
    update = events["sf-cdc-00023a1c-1111-e395-ed20-cf416ba652ad-1-0065e00000C3d4eAAA"]
    assert (update["stage"], update["amount"], update["rep_id"]) == ("lost", "5000.0", "r-anna")
    deleted = events["sf-cdc-00025c3e-3333-e395-ed20-cf416ba652ad-1-0065e00000E5f6gAAA"]
    assert (deleted["deleted"], deleted["rep_id"]) == (True, "r-anna")

    assert await facts(s, "revenue") == {("r-ben", "2026-11-18"): Decimal("22000.00")}
    assert await facts(s, "win_rate", "rep") == {("r-ben",): Decimal(1), ("r-anna",): Decimal(0)}
    assert await facts(s, "visits") == {("r-anna", "2026-11-12"): Decimal(1)}
    assert await facts(s, "quotes") == {("r-anna", "2026-11-14"): Decimal(1)}
    # the case: 1 complaint per 1 active customer (every record of Anna's is for Acme)
    assert await facts(s, "complaint_rate", "rep") == {
        ("r-anna",): Decimal(100),
        ("r-ben",): Decimal(0),
    }
    assert await quarantine(s) == []


async def test_outbound_resends_are_acknowledged_and_counted_once(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint, _secret = await salesforce_connector(s)
    for _ in range(2):  # Salesforce resends until acknowledged
        resp = await send_outbound(s, endpoint, "om_opportunities_won_and_lost.xml")
        assert_ack(resp)
    await s.wait_scored()
    assert sorted(await stored_events(s, "salesforce")) == [
        "sf-om-04l5e00000Gx7QzAA4",
        "sf-om-04l5e00000Gx7QzAA5",
    ]
    assert await facts(s, "deals_won") == {("r-ben", "2026-11-18"): Decimal(1)}


async def test_another_org_is_refused(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint, _secret = await salesforce_connector(s)
    body = fixture("salesforce/om_case_complaint.xml").replace(ORG.encode(), b"00D000000000001AAA")
    resp = await post_webhook(s, "salesforce", endpoint, body, content_type=XML)
    assert resp.status_code == 401
    assert await counts(s) == (0, 0, 0)


@pytest.mark.parametrize("case", ["wrong", "stale", "missing"])
async def test_cdc_signature_failures_answer_401(embedded_stack: Stack, case: str) -> None:
    s = embedded_stack
    endpoint, secret = await salesforce_connector(s)
    body = fixture("salesforce/cdc_opportunity_create.json")
    headers = {
        "wrong": cdc_headers("whsec_" + "A" * 32, body, "m1"),
        "stale": cdc_headers(secret, body, "m1", minutes_ago=10),
        "missing": {},
    }[case]
    resp = await post_webhook(s, "salesforce", endpoint, body, headers)
    assert resp.status_code == 401, resp.text
    assert await counts(s) == (0, 0, 0)


async def test_xml_bombs_are_refused(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint, _secret = await salesforce_connector(s)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'>"
        b"<soapenv:Body>&lol2;</soapenv:Body></soapenv:Envelope>"
    )
    resp = await post_webhook(s, "salesforce", endpoint, bomb, content_type=XML)
    assert resp.status_code == 401
    assert "cannot be authenticated" in resp.json()["error"]["message"]
    assert await counts(s) == (0, 0, 0)


async def test_gap_events_wait_in_quarantine_for_reconciliation(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint, secret = await salesforce_connector(s)
    out = await send_cdc(s, endpoint, secret, "cdc_gap.json")
    assert out["quarantined"] == 1
    (kept,) = await quarantine(s)
    assert kept["reason_code"] == "gap"
    assert "reconciliation" in kept["reason"]
    resp = await s.client.post(
        f"/v1/quarantine/{kept['id']}/discard",
        json={"note": "re-exported in the nightly import"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "discarded"
    assert await quarantine(s) == []


async def test_salesforce_end_to_end(stack: Stack) -> None:
    endpoint, secret = await salesforce_connector(stack)
    for name in ["om_opportunity_owner_changed.xml", "om_opportunities_won_and_lost.xml"]:
        assert_ack(await send_outbound(stack, endpoint, name))
    await send_cdc(stack, endpoint, secret, "cdc_opportunity_won_then_deleted.json")
    await stack.wait_scored()
    assert await progress(stack, "revenue") == Decimal("22000")
    assert await facts(stack, "win_rate", "rep") == {
        ("r-ben",): Decimal(1),
        ("r-anna",): Decimal(0),
    }
