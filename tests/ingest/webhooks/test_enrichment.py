"""Enrichment through the vendors' record APIs (issue 16, item 1), against local mock
vendor APIs (mock_vendors.py): per vendor a realistic flow — create, update to won,
amount change, owner change, delete, replay — ends in the right facts with only webhooks
and the mocked API; rate limits (429 then success; one fetch per record version); a
missing credential named in the quarantine, then an automatic retry once it is set."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from standardwebhooks import Webhook

from paceline.shared.clock import FixedClock
from tests.ingest.webhooks.mock_vendors import TOKEN, MockVendor, mock_vendor
from tests.ingest.webhooks.support import (
    facts,
    get_mapping,
    hubspot_v3_headers,
    post_webhook,
    put_connector,
    put_mapping,
    quarantine,
    webhook_url,
)
from tests.support import Stack, embedded_settings, running_stack

D = Decimal
MS_NOV_5 = 1793930400000  # 2026-11-05T10:00:00Z
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the app's clock; signatures are stamped with it


@pytest.fixture
def stack_clock() -> FixedClock:
    """The stacks run on a pinned clock: nothing here depends on the day the suite runs."""
    return FixedClock(NOW)


def cdc_headers(secret: str, body: bytes, msg_id: str) -> dict[str, str]:
    """Standard Webhooks headers (the reference library), stamped with the pinned clock."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, NOW, body.decode()),
    }


def ms(hours: int) -> int:
    """Epoch milliseconds ``hours`` after 2026-11-05T10:00Z."""
    return MS_NOV_5 + hours * 3_600_000


def iso(hours: int) -> str:
    """The same instant as ISO 8601 (UTC)."""
    return datetime.fromtimestamp(ms(hours) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


async def post(s: Stack, source: str, endpoint: str, body: Any, headers: dict[str, str]) -> Any:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    resp = await post_webhook(s, source, endpoint, raw, headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def revenue(s: Stack) -> dict[tuple[Any, ...], Decimal]:
    await s.wait_scored()
    return await facts(s, "revenue")


# -- Zoho CRM --------------------------------------------------------------------------------

Z_ANNA, Z_BEN = "3652397000000186017", "3652397000000186029"
Z_DEAL = "3652397000004077001"
Z_CHANNEL = "1000000068001"
Z_TOKEN = "TOKEN_FOR_VERIFICATION_OF_1000000068001"


def zoho_note(op: str, hours: int, values: dict[str, Any] | None, rid: str = Z_DEAL) -> Any:
    """A Zoho notification (https://www.zoho.com/crm/developer/docs/api/v8/notifications/
    enable.html): ids, the operation, and the affected values the channel returns."""
    return {
        "server_time": ms(hours),
        "query_params": {},
        "module": "Deals",
        "resource_uri": "https://www.zohoapis.com/crm/v8/Deals",
        "ids": [rid],
        "affected_fields": [{rid: sorted(values or {})}] if values else [],
        "affected_values": [{"record_id": rid, "values": values}] if values is not None else [],
        "operation": op,
        "channel_id": Z_CHANNEL,
        "token": Z_TOKEN,
    }


def zoho_deal(owner: str, amount: int, stage: str, hours: int) -> dict[str, Any]:
    """The deal as the records API returns it."""
    return {
        "Owner": {"name": "Anna" if owner == Z_ANNA else "Ben", "id": owner, "email": "x@y.cn"},
        "Deal_Name": "Suzhou plant",
        "Amount": amount,
        "Currency": "CNY",
        "Stage": stage,
        "Closing_Date": "2026-11-12",
        "Type": "New Business",
        "Account_Name": {"name": "Suzhou Ltd", "id": "3652397000000624046"},
        "Modified_Time": iso(hours).replace(".000Z", "+00:00"),
    }


async def zoho_connector(s: Stack, api: MockVendor | None) -> str:
    settings: dict[str, Any] = {"channel_id": Z_CHANNEL}
    secrets = {"token": Z_TOKEN}
    if api is not None:
        settings["api_base"] = api.base_url
        secrets["access_token"] = TOKEN
    out = await put_connector(s, "zoho", settings=settings, secrets=secrets)
    mapping = await get_mapping(s, "zoho")
    mapping["owners"] = {Z_ANNA: "r-anna", Z_BEN: "r-ben"}
    await put_mapping(s, "zoho", mapping)
    endpoint: str = out["endpoint_id"]
    return endpoint


async def test_zoho_flow_ends_in_the_right_facts(embedded_stack: Stack) -> None:
    s = embedded_stack
    with mock_vendor("zoho") as api:
        endpoint = await zoho_connector(s, api)
        deal = ("Deals", Z_DEAL)

        async def step(note: Any) -> Any:
            return await post(s, "zoho", endpoint, note, {})

        # Create: the notification has no owner (it is absent unless it changed).
        api.records[deal] = zoho_deal(Z_ANNA, 1000, "Qualification", 0)
        out = await step(zoho_note("insert", 0, {"Amount": 1000, "Stage": "Qualification"}))
        assert out["accepted"] == 1, out
        assert await revenue(s) == {}
        # Update to won: only the stage.
        api.records[deal] = zoho_deal(Z_ANNA, 1000, "Closed Won", 1)
        assert (await step(zoho_note("update", 1, {"Stage": "Closed Won"})))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1000")}
        # Amount change.
        api.records[deal] = zoho_deal(Z_ANNA, 1500, "Closed Won", 2)
        amount_change = zoho_note("update", 2, {"Amount": 1500})
        assert (await step(amount_change))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1500")}
        # Owner change.
        api.records[deal] = zoho_deal(Z_BEN, 1500, "Closed Won", 3)
        owner = {"id": Z_BEN, "name": "Ben"}
        assert (await step(zoho_note("update", 3, {"Owner": owner})))["accepted"] == 1
        assert await revenue(s) == {("r-ben", "2026-11-12"): D("1500")}
        fetches = api.fetched()
        assert fetches == 4  # one per record version
        assert {r["path"] for r in api.requests} == {f"/crm/v8/Deals/{Z_DEAL}"}
        assert "Owner" in api.requests[0]["query"]["fields"].split(",")
        # Delete (the record is gone from the API too: nothing is fetched).
        del api.records[deal]
        assert (await step(zoho_note("delete", 4, None)))["accepted"] == 1
        assert await revenue(s) == {}
        # Replay of an earlier notification: answered duplicate, the facts stay.
        replayed = await step(amount_change)
        assert (replayed["accepted"], replayed["duplicates"]) == (0, 1), replayed
        assert await revenue(s) == {}
        assert api.fetched() == fetches  # the cached newer state answered it
    assert await quarantine(s, source="zoho") == []


async def test_zoho_missing_credential_is_named_then_retried_automatically(
    stack: Stack,
) -> None:
    s = stack
    endpoint = await zoho_connector(s, None)
    out = await post(s, "zoho", endpoint, zoho_note("insert", 0, {"Stage": "Closed Won"}), {})
    assert out["quarantined"] == 1, out
    (kept,) = await quarantine(s, source="zoho")
    assert kept["reason_code"] == "incomplete"
    assert kept["reason"].endswith(
        "set the connector's secret access_token (Zoho CRM API): the whole record is then "
        "read through the API and this item is retried automatically"
    ), kept["reason"]
    assert kept["fix"]["code"] == "credential_missing"
    assert kept["fix"]["params"] == {"vendor": "Zoho CRM", "credential": "access_token"}
    assert kept["fix"]["message"].startswith("set the connector's secret access_token")
    zh = await s.client.get(
        "/v1/quarantine",
        params={"source": "zoho"},
        headers={**s.auth(), "Accept-Language": "zh-CN"},
    )
    assert zh.json()["items"][0]["fix"]["message"].startswith(
        "连接器缺少凭据 access_token（Zoho CRM API）"
    )
    with mock_vendor("zoho") as api:
        api.records[("Deals", Z_DEAL)] = zoho_deal(Z_BEN, 2300, "Closed Won", 0)
        # Setting the credential retries the item (no replay call).
        resp = await s.client.put(
            "/v1/connectors/zoho",
            json={
                "settings": {"channel_id": Z_CHANNEL, "api_base": api.base_url},
                "secrets": {"access_token": TOKEN},
            },
            headers=s.auth(),
        )
        assert resp.status_code == 200, resp.text
        assert "access_token" not in resp.text.replace('"access_token":"[redacted]"', "")
        assert TOKEN not in resp.text
        assert api.fetched() == 1
    assert await quarantine(s, source="zoho") == []
    (done,) = await quarantine(s, source="zoho", status="replayed")
    assert done["id"] == kept["id"]
    assert done["fix"] is None
    assert await revenue(s) == {("r-ben", "2026-11-12"): D("2300")}


async def test_a_refused_token_is_named(embedded_stack: Stack) -> None:
    s = embedded_stack
    with mock_vendor("zoho") as api:
        api.token = "another-token"
        api.records[("Deals", Z_DEAL)] = zoho_deal(Z_BEN, 2300, "Closed Won", 0)
        endpoint = await zoho_connector(s, api)
        out = await post(s, "zoho", endpoint, zoho_note("insert", 0, {"Stage": "Closed Won"}), {})
    assert out["quarantined"] == 1, out
    (kept,) = await quarantine(s, source="zoho")
    assert kept["reason_code"] == "enrichment_failed"
    assert "Zoho CRM API refused to read 3652397000004077001 (HTTP 401)" in kept["reason"]
    assert TOKEN not in kept["reason"]
    assert kept["fix"]["code"] == "credential_rejected"
    assert kept["fix"]["params"]["status"] == "401"


# -- HubSpot without webhook-included properties ---------------------------------------------

HS_SECRET = "hs-client-secret-7f3a"
HS_DEAL = "7301"


def hs_event(kind: str, hours: int, n: int, prop: tuple[str, Any] | None = None) -> Any:
    """A legacy ``deal.*`` webhook event (https://developers.hubspot.com/docs/api/webhooks)."""
    ev: dict[str, Any] = {
        "eventId": 900 + n,
        "subscriptionId": 55,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": ms(hours),
        "subscriptionType": f"deal.{kind}",
        "attemptNumber": 0,
        "objectId": int(HS_DEAL),
        "changeSource": "CRM",
    }
    if prop is not None:
        ev["propertyName"], ev["propertyValue"] = prop
    return ev


def hs_deal(owner: str, amount: str, stage: str, hours: int) -> dict[str, Any]:
    return {
        "dealname": "Hangzhou rollout",
        "hubspot_owner_id": owner,
        "amount": amount,
        "dealstage": stage,
        "closedate": "2026-11-12T03:00:00Z",
        "deal_currency_code": "CNY",
        "pipeline": "default",
        "createdate": iso(0),
        "hs_lastmodifieddate": iso(hours),
    }


async def hubspot_connector(s: Stack, api: MockVendor) -> str:
    out = await put_connector(
        s,
        "hubspot",
        settings={"api_base": api.base_url},
        secrets={"client_secret": HS_SECRET, "access_token": TOKEN},
    )
    mapping = await get_mapping(s, "hubspot")
    mapping["owners"] = {"101": "r-anna", "102": "r-ben"}
    await put_mapping(s, "hubspot", mapping)
    endpoint: str = out["endpoint_id"]
    return endpoint


async def hs_post(s: Stack, endpoint: str, events: list[Any]) -> Any:
    body = orjson.dumps(events)
    headers = hubspot_v3_headers(HS_SECRET, webhook_url("hubspot", endpoint), body, NOW)
    return await post(s, "hubspot", endpoint, body, headers)


async def test_hubspot_flow_ends_in_the_right_facts(embedded_stack: Stack) -> None:
    """The webhook says only which property changed (its value ignored here: the
    creation event has none at all); the record is read through the CRM API."""
    s = embedded_stack
    with mock_vendor("hubspot") as api:
        endpoint = await hubspot_connector(s, api)
        deal = ("0-3", HS_DEAL)
        api.records[deal] = hs_deal("101", "1000", "qualifiedtobuy", 0)
        assert (await hs_post(s, endpoint, [hs_event("creation", 0, 1)]))["accepted"] == 1
        assert await revenue(s) == {}
        api.records[deal] = hs_deal("101", "1000", "closedwon", 1)
        won = [hs_event("propertyChange", 1, 2, ("dealstage", "closedwon"))]
        assert (await hs_post(s, endpoint, won))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1000")}
        api.records[deal] = hs_deal("101", "1500", "closedwon", 2)
        amount = [hs_event("propertyChange", 2, 3, ("amount", "1500"))]
        assert (await hs_post(s, endpoint, amount))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1500")}
        api.records[deal] = hs_deal("102", "1500", "closedwon", 3)
        owner = [hs_event("propertyChange", 3, 4, ("hubspot_owner_id", "102"))]
        assert (await hs_post(s, endpoint, owner))["accepted"] == 1
        assert await revenue(s) == {("r-ben", "2026-11-12"): D("1500")}
        assert api.fetched() == 4
        del api.records[deal]
        assert (await hs_post(s, endpoint, [hs_event("deletion", 4, 5)]))["accepted"] == 1
        assert await revenue(s) == {}
        again = await hs_post(s, endpoint, amount)
        assert (again["accepted"], again["duplicates"]) == (0, 1), again
        assert await revenue(s) == {}
        assert api.fetched() == 4
        assert api.requests[0]["query"]["archived"] == "false"
    assert await quarantine(s, source="hubspot") == []


async def test_hubspot_429_is_waited_out_and_one_version_is_fetched_once(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    with mock_vendor("hubspot") as api:
        endpoint = await hubspot_connector(s, api)
        api.records[("0-3", HS_DEAL)] = hs_deal("102", "4200", "closedwon", 1)
        api.limit_next = 1
        batch = [
            hs_event("propertyChange", 1, 11, ("dealstage", "closedwon")),
            hs_event("propertyChange", 1, 12, ("amount", "4200")),
            hs_event("propertyChange", 1, 13, ("closedate", "2026-11-12T03:00:00Z")),
        ]
        out = await hs_post(s, endpoint, batch)
        assert out["accepted"] == 3, out
        assert [r["status"] for r in api.requests] == [429, 200]
        # A replay is answered "duplicate" once scoring has stored the ids (before that it
        # is appended again and scoring drops it): wait, or the answer races the worker.
        await s.wait_scored()
        again = await hs_post(s, endpoint, batch)
        assert again["duplicates"] == 3, again
        assert len(api.requests) == 2  # cached: the same version is not fetched again
    assert await revenue(s) == {("r-ben", "2026-11-12"): D("4200")}


async def test_a_long_rate_limit_is_not_waited_and_the_item_replays_later(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    with mock_vendor("hubspot") as api:
        endpoint = await hubspot_connector(s, api)
        api.records[("0-3", HS_DEAL)] = hs_deal("102", "4200", "closedwon", 1)
        api.limit_next, api.retry_after = 1, "120"
        event = [hs_event("propertyChange", 1, 21, ("dealstage", "closedwon"))]
        out = await hs_post(s, endpoint, event)
        assert out["quarantined"] == 1, out
        (kept,) = await quarantine(s, source="hubspot")
        assert kept["reason_code"] == "enrichment_failed"
        assert "HubSpot API rate limit reached for 7301 (retry after 120 s)" in kept["reason"]
        assert len(api.requests) == 1
    assert await revenue(s) == {}


# -- Salesforce CDC --------------------------------------------------------------------------

SF_ORG = "00D5e000000KQ2eEAG"
SF_ANNA, SF_BEN = "0055e000001AbcdAAA", "0055e000001EfghAAA"
SF_DEAL, SF_OTHER = "0065e00000E1a2bAAA", "0065e00000E9z8yAAA"


def cdc(change: str, hours: int, rid: str, fields: dict[str, Any], seq: int = 1) -> Any:
    """A change event as a relay posts it (https://developer.salesforce.com/docs/atlas.en-us.
    change_data_capture.meta/change_data_capture/cdc_event_fields_header.htm)."""
    return {
        "ChangeEventHeader": {
            "entityName": "Opportunity",
            "recordIds": [rid],
            "changeType": change,
            "changeOrigin": "com/salesforce/api/rest/62.0",
            "transactionKey": f"0002{hours:02d}{seq:02d}-{rid}",
            "sequenceNumber": seq,
            "commitTimestamp": ms(hours),
            "commitNumber": 10716283339700 + hours,
            "commitUser": SF_ANNA,
            "nulledFields": [],
            "diffFields": [],
            "changedFields": sorted(fields),
        },
        **fields,
    }


def sf_opportunity(owner: str, amount: float, stage: str, hours: int) -> dict[str, Any]:
    return {
        "OwnerId": owner,
        "Name": "Ningbo line",
        "Amount": amount,
        "StageName": stage,
        "CloseDate": "2026-11-12",
        "AccountId": "0015e00000AbcdeAAA",
        "CurrencyIsoCode": "CNY",
        "Type": "New Customer",
        "IsDeleted": False,
        "LastModifiedDate": iso(hours).replace("Z", "+0000"),
    }


async def test_salesforce_cdc_flow_ends_in_the_right_facts(embedded_stack: Stack) -> None:
    s = embedded_stack
    with mock_vendor("salesforce") as api:
        out = await put_connector(
            s,
            "salesforce",
            settings={"organization_id": SF_ORG, "instance_url": api.base_url},
            secrets={"access_token": TOKEN},
        )
        endpoint, secret = out["endpoint_id"], out["generated_secrets"]["cdc_secret"]
        mapping = await get_mapping(s, "salesforce")
        mapping["owners"] = {SF_ANNA: "r-anna", SF_BEN: "r-ben"}
        await put_mapping(s, "salesforce", mapping)
        n = 0

        async def step(event: Any) -> Any:
            nonlocal n
            n += 1
            body = orjson.dumps(event)
            return await post(s, "salesforce", endpoint, body, cdc_headers(secret, body, f"m{n}"))

        deal = ("Opportunity", SF_DEAL)
        created = sf_opportunity(SF_ANNA, 1000.0, "Prospecting", 0)
        api.records[deal] = created
        # CREATE carries every field: nothing to fetch.
        assert (await step(cdc("CREATE", 0, SF_DEAL, created)))["accepted"] == 1
        assert api.fetched() == 0
        api.records[deal] = sf_opportunity(SF_ANNA, 1000.0, "Closed Won", 1)
        won = {"StageName": "Closed Won", "LastModifiedDate": iso(1)}
        assert (await step(cdc("UPDATE", 1, SF_DEAL, won)))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1000")}
        api.records[deal] = sf_opportunity(SF_ANNA, 1500.0, "Closed Won", 2)
        amount = cdc("UPDATE", 2, SF_DEAL, {"Amount": 1500.0, "LastModifiedDate": iso(2)})
        assert (await step(amount))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1500.0")}
        api.records[deal] = sf_opportunity(SF_BEN, 1500.0, "Closed Won", 3)
        owner = {"OwnerId": SF_BEN, "LastModifiedDate": iso(3)}
        assert (await step(cdc("UPDATE", 3, SF_DEAL, owner)))["accepted"] == 1
        assert await revenue(s) == {("r-ben", "2026-11-12"): D("1500.0")}
        # An update of a record never seen before (no OwnerId in the event): fetched.
        api.records[("Opportunity", SF_OTHER)] = sf_opportunity(SF_ANNA, 640.0, "Closed Won", 3)
        other = cdc("UPDATE", 3, SF_OTHER, {"StageName": "Closed Won"}, seq=2)
        assert (await step(other))["accepted"] == 1
        del api.records[deal]
        assert (await step(cdc("DELETE", 4, SF_DEAL, {})))["accepted"] == 1
        fetches = api.fetched()
        assert fetches == 4
        again = await step(amount)
        assert (again["accepted"], again["duplicates"]) == (0, 1), again
        assert api.fetched() == fetches
        query = api.requests[0]["query"]["fields"].split(",")
        assert {"OwnerId", "Amount", "StageName", "CloseDate", "LastModifiedDate"} <= set(query)
    assert await revenue(s) == {("r-anna", "2026-11-12"): D("640.0")}
    assert await quarantine(s, source="salesforce") == []


# -- Pipedrive -------------------------------------------------------------------------------

PD_USER, PD_PASSWORD = "paceline", "pd-basic-password-91c2"


def basic() -> dict[str, str]:
    token = base64.b64encode(f"{PD_USER}:{PD_PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def pd_deal(owner: int, value: int, status: str, hours: int) -> dict[str, Any]:
    """A deal as webhooks v2 and API v2 carry it."""
    return {
        "id": 41,
        "title": "Wuxi warehouse",
        "value": value,
        "currency": "CNY",
        "status": status,
        "stage_id": 2,
        "pipeline_id": 1,
        "owner_id": owner,
        "org_id": 12,
        "add_time": iso(0),
        "update_time": iso(hours),
        "won_time": "2026-11-12T03:00:00Z" if status == "won" else None,
        "lost_time": None,
        "close_time": "2026-11-12T03:00:00Z" if status == "won" else None,
        "custom_fields": {},
    }


def pd_delivery(action: str, hours: int, n: int, data: Any, previous: Any) -> Any:
    """A webhooks v2 delivery (https://pipedrive.readme.io/docs/guide-for-webhooks-v2)."""
    return {
        "meta": {
            "action": action,
            "entity": "deal",
            "entity_id": "41",
            "id": f"7a1c0000-0000-4000-8000-0000000000{n:02d}",
            "company_id": "9812",
            "user_id": "201",
            "timestamp": iso(hours),
            "type": "general",
            "version": "2.0",
            "webhook_id": "77",
            "attempt": 1,
            "host": "acme.pipedrive.com",
        },
        "data": data,
        "previous": previous,
    }


async def test_pipedrive_flow_ends_in_the_right_facts(embedded_stack: Stack) -> None:
    """Pipedrive deliveries carry the whole object: the API is read only for a delivery
    that lacks a mapped field (here one a relay trimmed to the changed fields)."""
    s = embedded_stack
    with mock_vendor("pipedrive") as api:
        out = await put_connector(
            s,
            "pipedrive",
            settings={"username": PD_USER, "api_base": api.base_url},
            secrets={"password": PD_PASSWORD, "api_token": TOKEN},
        )
        endpoint = out["endpoint_id"]
        mapping = await get_mapping(s, "pipedrive")
        mapping["owners"] = {"201": "r-anna", "202": "r-ben"}
        await put_mapping(s, "pipedrive", mapping)

        async def step(body: Any) -> Any:
            return await post(s, "pipedrive", endpoint, body, basic())

        deal = ("deal", "41")
        api.records[deal] = pd_deal(201, 1000, "open", 0)
        assert (await step(pd_delivery("create", 0, 1, api.records[deal], None)))["accepted"]
        api.records[deal] = pd_deal(201, 1000, "won", 1)
        won = pd_delivery("change", 1, 2, api.records[deal], {"status": "open"})
        assert (await step(won))["accepted"] == 1
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1000")}
        assert api.fetched() == 0  # whole objects: nothing fetched
        # A trimmed delivery (only what changed): the deal is read through API v2.
        api.records[deal] = pd_deal(201, 1500, "won", 2)
        api.limit_next = 1  # and the first read is rate limited (x-ratelimit-reset: 1)
        amount = pd_delivery("change", 2, 3, {"id": 41, "value": 1500}, {"value": 1000})
        assert (await step(amount))["accepted"] == 1
        assert [r["status"] for r in api.requests] == [429, 200]
        assert api.requests[-1]["path"] == "/api/v2/deals/41"
        assert await revenue(s) == {("r-anna", "2026-11-12"): D("1500")}
        api.records[deal] = pd_deal(202, 1500, "won", 3)
        owner = pd_delivery("change", 3, 4, api.records[deal], {"owner_id": 201})
        assert (await step(owner))["accepted"] == 1
        assert await revenue(s) == {("r-ben", "2026-11-12"): D("1500")}
        previous = api.records.pop(deal)
        assert (await step(pd_delivery("delete", 4, 5, None, previous)))["accepted"] == 1
        assert await revenue(s) == {}
        again = await step(amount)
        assert (again["accepted"], again["duplicates"]) == (0, 1), again
        assert api.fetched() == 1
    assert await revenue(s) == {}
    assert await quarantine(s, source="pipedrive") == []


# -- OAuth grants: Zoho refresh tokens, Salesforce client credentials ------------------------


async def test_zoho_access_tokens_come_from_the_refresh_token_and_are_renewed(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    grant = {
        "grant_type": "refresh_token",
        "client_id": "1000.QVF8O5MXFUYATAQGJKEWUXJKZH7OOE",
        "client_secret": "31a99ae27deff7fr34e419fe321b712a02cdedted7",
        "refresh_token": "1000.3421ad0e1a6fe44663ea112b8b1c4fdf.cd38e645e3d7423651d17368",
    }
    with mock_vendor("zoho") as api:
        api.grant = grant
        out = await put_connector(
            s,
            "zoho",
            settings={
                "channel_id": Z_CHANNEL,
                "api_base": api.base_url,
                "accounts_url": api.base_url,
                "client_id": grant["client_id"],
            },
            secrets={
                "token": Z_TOKEN,
                "client_secret": grant["client_secret"],
                "refresh_token": grant["refresh_token"],
            },
        )
        assert grant["refresh_token"] not in str(out)
        endpoint = out["endpoint_id"]
        mapping = await get_mapping(s, "zoho")
        mapping["owners"] = {Z_ANNA: "r-anna", Z_BEN: "r-ben"}
        await put_mapping(s, "zoho", mapping)
        api.records[("Deals", Z_DEAL)] = zoho_deal(Z_ANNA, 900, "Closed Won", 0)
        note = zoho_note("insert", 0, {"Stage": "Closed Won"})
        assert (await post(s, "zoho", endpoint, note, {}))["accepted"] == 1
        assert [(r["path"], r["status"]) for r in api.requests] == [
            ("/oauth/v2/token", 200),
            (f"/crm/v8/Deals/{Z_DEAL}", 200),
        ]
        # The token is revoked (or expired early): a 401, one renewal, the read again.
        api.token = "revoked"
        api.records[("Deals", Z_DEAL)] = zoho_deal(Z_BEN, 900, "Closed Won", 1)
        note = zoho_note("update", 1, {"Owner": {"id": Z_BEN, "name": "Ben"}})
        assert (await post(s, "zoho", endpoint, note, {}))["accepted"] == 1
        assert [(r["path"], r["status"]) for r in api.requests[2:]] == [
            (f"/crm/v8/Deals/{Z_DEAL}", 401),
            ("/oauth/v2/token", 200),
            (f"/crm/v8/Deals/{Z_DEAL}", 200),
        ]
        # A refused grant names the refresh token (a new deal: nothing known of it).
        api.grant, api.token = {}, "revoked-again"
        other = "3652397000004077099"
        api.records[("Deals", other)] = zoho_deal(Z_BEN, 950, "Closed Won", 2)
        note = zoho_note("insert", 2, {"Amount": 950}, rid=other)
        assert (await post(s, "zoho", endpoint, note, {}))["quarantined"] == 1
    (kept,) = await quarantine(s, source="zoho")
    assert kept["reason_code"] == "enrichment_failed"
    assert kept["fix"]["code"] == "credential_rejected"
    assert kept["fix"]["params"]["credential"] == "refresh_token"
    assert grant["refresh_token"] not in kept["reason"]
    assert await revenue(s) == {("r-ben", "2026-11-12"): D("900")}


async def test_salesforce_client_credentials_flow(embedded_stack: Stack) -> None:
    s = embedded_stack
    grant = {
        "grant_type": "client_credentials",
        "client_id": "3MVG9A2kN3Bn17hs8MIaQx1voVGy",
        "client_secret": "B0E2C7D5F1A94D7A8E1C3B5D7F9A1C3E",
    }
    with mock_vendor("salesforce") as api:
        api.grant = grant
        out = await put_connector(
            s,
            "salesforce",
            settings={
                "organization_id": SF_ORG,
                "instance_url": api.base_url,
                "client_id": grant["client_id"],
            },
            secrets={"client_secret": grant["client_secret"]},
        )
        endpoint, secret = out["endpoint_id"], out["generated_secrets"]["cdc_secret"]
        mapping = await get_mapping(s, "salesforce")
        mapping["owners"] = {SF_ANNA: "r-anna", SF_BEN: "r-ben"}
        await put_mapping(s, "salesforce", mapping)
        api.records[("Opportunity", SF_OTHER)] = sf_opportunity(SF_BEN, 310.0, "Closed Won", 3)
        body = orjson.dumps(cdc("UPDATE", 3, SF_OTHER, {"StageName": "Closed Won"}))
        out = await post(s, "salesforce", endpoint, body, cdc_headers(secret, body, "c1"))
        assert out["accepted"] == 1, out
        assert [(r["path"], r["status"]) for r in api.requests] == [
            ("/services/oauth2/token", 200),
            (f"/services/data/v62.0/sobjects/Opportunity/{SF_OTHER}", 200),
        ]
    assert await revenue(s) == {("r-ben", "2026-11-12"): D("310.0")}


# -- the guard: every URL the enrichment calls is checked when saved ---------------------------


@pytest.mark.parametrize(
    ("source", "settings", "name"),
    [
        ("zoho", {"api_base": "http://127.0.0.1:9/"}, "api_base"),
        ("zoho", {"accounts_url": "http://169.254.169.254/"}, "accounts_url"),
        ("pipedrive", {"username": "u", "api_base": "http://0x7f000001/"}, "api_base"),
        (
            "salesforce",
            {"organization_id": SF_ORG, "instance_url": "http://[::ffff:a9fe:a9fe]/"},
            "instance_url",
        ),
    ],
)
async def test_a_private_vendor_url_is_refused_when_saved(
    tmp_path: Path, source: str, settings: dict[str, str], name: str
) -> None:
    config = embedded_settings(tmp_path / "data", outbound_allow_private=False)
    async with running_stack("embedded", config, clock=FixedClock(NOW)) as s:
        resp = await s.client.put(
            f"/v1/connectors/{source}",
            json={"settings": settings, "secrets": {}},
            headers=s.auth(),
        )
        assert resp.status_code == 422, resp.text
        fields = resp.json()["error"]["fields"]
        assert [f["field"] for f in fields] == [f"settings.{name}"]
        assert fields[0]["reason_code"] == "webhooks.config.url_private"
        assert fields[0]["reason"].endswith("不是公网地址；Paceline 只访问公网地址")
