"""Pipedrive: webhooks v2 and v1 -> canonical events -> facts; HTTP Basic auth; quarantine."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

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

USER, PASSWORD = "paceline", "pd-basic-password-91c2"
FILES = [
    "v2_lead_created.json",
    "v2_deal_created.json",
    "v2_deal_amount_changed.json",
    "v2_deal_owner_changed.json",
    "v2_deal_won.json",
    "v2_deal_lost.json",
    "v2_deal_33_won.json",
    "v2_deal_deleted.json",
    "v2_activity_meeting.json",
    "v2_activity_call.json",
    "v1_deal_updated.json",
    "v1_deal_added.json",
    "v1_deal_deleted.json",
]


def basic(user: str, password: str) -> dict[str, str]:
    """An Authorization: Basic header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def pipedrive_connector(stack: Stack) -> str:
    """A Pipedrive connector with two owners mapped; its endpoint id."""
    out = await put_connector(
        stack, "pipedrive", settings={"username": USER}, secrets={"password": PASSWORD}
    )
    assert out["generated_secrets"] is None  # the password was given
    mapping = await get_mapping(stack, "pipedrive")
    mapping["owners"] = {"201": "r-anna", "202": "r-ben"}
    await put_mapping(stack, "pipedrive", mapping)
    endpoint: str = out["endpoint_id"]
    return endpoint


async def send(stack: Stack, endpoint: str, name: str) -> dict[str, Any]:
    """POST one fixture delivery with the right credentials (200 required)."""
    resp = await post_webhook(
        stack, "pipedrive", endpoint, fixture(f"pipedrive/{name}"), basic(USER, PASSWORD)
    )
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def test_every_fixture_names_its_documentation() -> None:
    for name in [*FILES, "v2_deal_unknown_status.json"]:
        assert "pipedrive.readme.io" in fixture_source(f"pipedrive/{name}")


async def test_each_payload_kind_maps_to_the_expected_canonical_events(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    answers = {name: await send(s, endpoint, name) for name in FILES}
    assert answers["v2_activity_call.json"]["ignored"] == 1
    assert answers["v2_activity_call.json"]["results"][0]["event_ids"] == []
    await s.wait_scored()
    events = await stored_events(s, "pipedrive")
    created = events["pd-deal-31-5f0e2a4c-0001-4a7b-9c1d-1a2b3c4d5e01"]
    assert created == {
        "event_id": "pd-deal-31-5f0e2a4c-0001-4a7b-9c1d-1a2b3c4d5e01",
        "type": "deal",
        "occurred_at": "2026-11-03T01:00:00.120000Z",
        "rep_id": "r-anna",
        "customer_id": "12",
        "entity_id": "31",
        "version": "2026-11-03T01:00:00.120000Z",
        "deleted": False,
        "amount": "4000",
        "currency": "CNY",
        "stage": "open",
        "attributes": {"pipeline_id": 1, "stage_id": 2, "title": "Shanghai expansion"},
    }
    amount = events["pd-deal-31-5f0e2a4c-0002-4a7b-9c1d-1a2b3c4d5e02"]
    assert (amount["amount"], amount["rep_id"]) == ("4500", "r-anna")
    owner = events["pd-deal-31-5f0e2a4c-0003-4a7b-9c1d-1a2b3c4d5e03"]
    assert (owner["amount"], owner["rep_id"]) == ("4500", "r-ben")
    won = events["pd-deal-31-5f0e2a4c-0004-4a7b-9c1d-1a2b3c4d5e04"]
    assert (won["stage"], won["closed_at"], won["rep_id"]) == (
        "won",
        "2026-11-17T03:00:00Z",
        "r-ben",
    )
    lost = events["pd-deal-32-5f0e2a4c-0005-4a7b-9c1d-1a2b3c4d5e05"]
    assert (lost["stage"], lost["closed_at"]) == ("lost", "2026-11-18T04:00:00Z")
    deleted = events["pd-deal-33-5f0e2a4c-0007-4a7b-9c1d-1a2b3c4d5e07"]
    assert (deleted["deleted"], deleted["entity_id"], deleted["rep_id"]) == (True, "33", "r-anna")
    visit = events["pd-activity-501-5f0e2a4c-0008-4a7b-9c1d-1a2b3c4d5e08"]
    assert (visit["type"], visit["channel"], visit["occurred_at"], visit["customer_id"]) == (
        "visit",
        "onsite",
        "2026-11-11T02:30:00Z",
        "12",
    )
    lead = events[
        "pd-lead-adf21080-0e10-11eb-879b-05d71fb426ec-5f0e2a4c-0010-4a7b-9c1d-1a2b3c4d5e10"
    ]
    assert (lead["type"], lead["occurred_at"], lead["customer_id"]) == (
        "lead",
        "2026-11-04T01:00:00Z",
        "12",
    )
    v1 = events["pd-deal-34-1795044000123456"]
    assert (v1["stage"], v1["rep_id"], v1["amount"], v1["closed_at"]) == (
        "won",
        "r-anna",
        "2500",
        "2026-11-19T00:00:00Z",
    )
    v1_added = events["pd-deal-35-1794564000254310"]
    assert (v1_added["stage"], v1_added["rep_id"], v1_added["amount"], v1_added["version"]) == (
        "open",
        "r-ben",
        "1800",
        "2026-11-13T10:00:00.254310Z",
    )
    v1_deleted = events["pd-deal-35-1794650400118204"]
    assert (v1_deleted["deleted"], v1_deleted["entity_id"], v1_deleted["rep_id"]) == (
        True,
        "35",
        "r-ben",
    )
    assert v1_deleted["version"] == "2026-11-14T10:00:00.118204Z"
    assert not any(e["entity_id"] == "502" for e in events.values())

    assert await facts(s, "revenue") == {
        ("r-ben", "2026-11-17"): Decimal("4500"),
        ("r-anna", "2026-11-19"): Decimal("2500"),
    }
    assert await facts(s, "win_rate", "rep") == {
        ("r-ben",): Decimal(1),
        ("r-anna",): Decimal("0.5"),
    }
    assert await facts(s, "visits") == {("r-anna", "2026-11-11"): Decimal(1)}
    assert await facts(s, "new_opportunities") == {("r-anna", "2026-11-04"): Decimal(1)}
    assert await quarantine(s) == []


@pytest.mark.parametrize(
    "headers",
    [{}, basic(USER, "wrong"), basic("someone", PASSWORD), {"Authorization": "Basic !!!"}],
    ids=["none", "wrong-password", "wrong-user", "garbage"],
)
async def test_wrong_credentials_answer_401_and_store_nothing(
    embedded_stack: Stack, headers: dict[str, str]
) -> None:
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    resp = await post_webhook(
        s, "pipedrive", endpoint, fixture("pipedrive/v2_deal_won.json"), headers
    )
    assert resp.status_code == 401, resp.text
    assert PASSWORD not in resp.text
    assert await counts(s) == (0, 0, 0)


async def test_a_retried_delivery_counts_once(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    for _ in range(3):  # Pipedrive retries a delivery it thinks failed
        out = await send(s, endpoint, "v2_deal_33_won.json")
        assert out["results"][0]["event_ids"] == ["pd-deal-33-5f0e2a4c-0006-4a7b-9c1d-1a2b3c4d5e06"]
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-anna", "2026-11-19"): Decimal("7000")}


async def test_unknown_status_then_fixed_mapping(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    out = await send(s, endpoint, "v2_deal_unknown_status.json")
    assert out["quarantined"] == 1
    (kept,) = await quarantine(s, source="pipedrive")
    assert kept["reason_code"] == "unknown_value"
    assert "'archived'" in kept["reason"]
    mapping = await get_mapping(s, "pipedrive")
    mapping["objects"]["deal"]["values"]["stage"]["lost"].append("archived")
    await put_mapping(s, "pipedrive", mapping)
    resp = await s.client.post(f"/v1/quarantine/{kept['id']}/replay", headers=s.auth())
    assert resp.json()["replayed"] == 1, resp.text
    await s.wait_scored()
    assert await facts(s, "win_rate", "rep") == {("r-anna",): Decimal(0)}


async def test_unknown_owner_is_quarantined_when_the_mapping_says_so(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    mapping = await get_mapping(s, "pipedrive")
    mapping["owners"] = {"202": "r-ben"}
    mapping["unknown_owner"] = "quarantine"
    await put_mapping(s, "pipedrive", mapping)
    out = await send(s, endpoint, "v2_deal_created.json")
    assert out["quarantined"] == 1
    (kept,) = await quarantine(s)
    assert kept["reason_code"] == "unknown_owner"
    assert "'201'" in kept["reason"]
    mapping["owners"]["201"] = "r-anna"
    await put_mapping(s, "pipedrive", mapping)
    resp = await s.client.post("/v1/quarantine/replay?source=pipedrive", headers=s.auth())
    assert resp.json()["replayed"] == 1
    await s.wait_scored()
    event = (await stored_events(s, "pipedrive"))["pd-deal-31-5f0e2a4c-0001-4a7b-9c1d-1a2b3c4d5e01"]
    assert event["rep_id"] == "r-anna"


async def test_pipedrive_end_to_end(stack: Stack) -> None:
    endpoint = await pipedrive_connector(stack)
    for name in ["v2_deal_created.json", "v2_deal_owner_changed.json", "v2_deal_won.json"]:
        await send(stack, endpoint, name)
    await stack.wait_scored()
    assert await progress(stack, "revenue") == Decimal("4500")
    assert await facts(stack, "revenue") == {("r-ben", "2026-11-17"): Decimal("4500")}
