"""Webhook size limits (docs/CONNECTORS.md, "What happens to a webhook"): a body above
``PACELINE_MAX_BODY_BYTES``, more items or more records than ``PACELINE_MAX_BATCH_EVENTS``
-> 413, and nothing of the request is stored (no event, no snapshot, no quarantine row,
nothing on the event log). The stacks run with the default limits, the documented ones."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from paceline.shared.settings import Settings
from tests.ingest.webhooks.support import (
    counts,
    hubspot_v3_headers,
    now,
    post_webhook,
    webhook_url,
)
from tests.ingest.webhooks.test_generic import canonical_connector, sw_headers
from tests.ingest.webhooks.test_hubspot import SECRET as HUBSPOT_SECRET
from tests.ingest.webhooks.test_hubspot import hubspot_connector
from tests.ingest.webhooks.test_pipedrive import PASSWORD, USER, basic, pipedrive_connector
from tests.ingest.webhooks.test_zoho import TOKEN, zoho_connector
from tests.support import Stack

DOC = Path(__file__).parents[3] / "docs" / "CONNECTORS.md"
MAX_ITEMS: int = Settings.model_fields["max_batch_events"].default
MAX_BODY: int = Settings.model_fields["max_body_bytes"].default


async def log_size(stack: Stack) -> int:
    """Records on the event log (every partition)."""
    ends = await stack.app.state.paceline.eventlog.end_offsets()
    return int(sum(ends.values()))


async def assert_nothing_stored(stack: Stack) -> None:
    """No event, quarantine row or snapshot, and nothing appended to the log."""
    await stack.wait_scored()
    assert await counts(stack) == (0, 0, 0)
    assert await log_size(stack) == 0


def test_the_documented_limits_are_the_defaults() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert (MAX_ITEMS, MAX_BODY) == (1000, 5 * 1024 * 1024)
    assert re.search(r"`PACELINE_MAX_BODY_BYTES` \(5 MiB by default\)", text)
    assert re.search(r"`PACELINE_MAX_BATCH_EVENTS` items \(1,000 by\s+default", text)


def hubspot_batch(n: int) -> bytes:
    """n HubSpot deal property changes in one batch (each its own item)."""
    base = 1795000000000
    return orjson.dumps(
        [
            {
                "eventId": 1000 + i,
                "subscriptionId": 4711,
                "portalId": 62515,
                "appId": 1160452,
                "occurredAt": base + i,
                "subscriptionType": "deal.propertyChange",
                "attemptNumber": 0,
                "objectId": 90000 + i,
                "propertyName": "amount",
                "propertyValue": "100",
                "changeSource": "CRM",
            }
            for i in range(n)
        ]
    )


def canonical_batch(n: int) -> bytes:
    """n canonical visits in one Standard Webhooks delivery."""
    return orjson.dumps(
        [
            {
                "event_id": f"visit-{i}",
                "type": "visit",
                "occurred_at": "2026-11-10T10:00:00+08:00",
                "rep_id": "u-1",
                "channel": "onsite",
            }
            for i in range(n)
        ]
    )


async def post_hubspot(stack: Stack, n: int) -> Any:
    endpoint = await hubspot_connector(stack)
    body = hubspot_batch(n)
    headers = hubspot_v3_headers(HUBSPOT_SECRET, webhook_url("hubspot", endpoint), body, now())
    return await post_webhook(stack, "hubspot", endpoint, body, headers)


async def post_canonical(stack: Stack, n: int) -> Any:
    endpoint, secret = await canonical_connector(stack)
    body = canonical_batch(n)
    return await post_webhook(stack, "crm9", endpoint, body, sw_headers(secret, body, "big"))


SENDERS: dict[str, Callable[[Stack, int], Any]] = {
    "hubspot": post_hubspot,
    "generic": post_canonical,
}


@pytest.mark.parametrize("source", sorted(SENDERS))
async def test_more_items_than_the_limit_get_413_and_nothing_is_stored(
    embedded_stack: Stack, source: str
) -> None:
    s = embedded_stack
    resp = await SENDERS[source](s, MAX_ITEMS + 1)
    assert resp.status_code == 413, resp.text
    error = resp.json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["message_code"] == "webhooks.batch.too_many_items"
    assert error["message_params"] == {"max": MAX_ITEMS, "count": MAX_ITEMS + 1}
    assert f"at most {MAX_ITEMS:,} items" in error["message"]
    await assert_nothing_stored(s)


async def test_exactly_the_limit_is_accepted(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await post_canonical(s, MAX_ITEMS)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == MAX_ITEMS
    await s.wait_scored()
    assert (await counts(s))[0] == MAX_ITEMS


async def test_more_records_than_the_limit_in_one_item_get_413(embedded_stack: Stack) -> None:
    """One Zoho notification is one item, but it names a record per id."""
    s = embedded_stack
    endpoint = await zoho_connector(s)
    ids = [str(3652397000009000000 + i) for i in range(MAX_ITEMS + 1)]
    body = orjson.dumps(
        {
            "server_time": 1795489200000,
            "query_params": {},
            "module": "Deals",
            "resource_uri": "https://www.zohoapis.com/crm/v8/Deals",
            "ids": ids,
            "affected_fields": [],
            "operation": "delete",
            "channel_id": "1000000068001",
            "token": TOKEN,
        }
    )
    resp = await post_webhook(s, "zoho", endpoint, body)
    assert resp.status_code == 413, resp.text[:300]
    assert f"at most {MAX_ITEMS:,} records; this one has {MAX_ITEMS + 1:,}" in resp.text
    await assert_nothing_stored(s)


def pipedrive_delivery(size: int) -> bytes:
    """A well-formed Pipedrive v2 delivery padded (the deal's title) to ``size`` bytes."""
    payload: dict[str, Any] = {
        "meta": {
            "action": "change",
            "entity": "deal",
            "entity_id": "31",
            "id": "5f0e2a4c-0099-4a7b-9c1d-1a2b3c4d5e99",
            "timestamp": "2026-11-17T03:00:00.000Z",
            "version": "2.0",
        },
        "data": {"id": 31, "title": "", "value": 10, "status": "won", "owner_id": 201},
        "previous": None,
    }
    pad = size - len(orjson.dumps(payload))
    payload["data"]["title"] = "x" * pad
    body = orjson.dumps(payload)
    assert len(body) == size
    return body


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "streamed"])
async def test_a_body_above_the_limit_gets_413_and_nothing_is_stored(
    embedded_stack: Stack, declared: bool
) -> None:
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    body = pipedrive_delivery(MAX_BODY + 1)
    headers = {"Content-Type": "application/json", **basic(USER, PASSWORD)}
    if declared:
        resp = await s.client.post(
            "/v1/webhooks/pipedrive", params={"endpoint": endpoint}, content=body, headers=headers
        )
    else:

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        resp = await s.client.post(
            "/v1/webhooks/pipedrive",
            params={"endpoint": endpoint},
            content=chunks(),
            headers=headers,
        )
        assert "content-length" not in resp.request.headers
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "payload_too_large"
    await assert_nothing_stored(s)
