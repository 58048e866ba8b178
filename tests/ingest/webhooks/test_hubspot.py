"""HubSpot: batched legacy and generic events -> canonical events -> facts; signatures;
enrichment through a fake HubSpot CRM API on 127.0.0.1; quarantine and replay."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from paceline.ingest.webhooks.signatures import (
    SignatureError,
    hubspot_v1_signature,
    hubspot_v2_signature,
    hubspot_v3_signature,
    verify_hubspot,
)
from tests.ingest.webhooks.support import (
    counts,
    facts,
    fake_api,
    fixture,
    fixture_source,
    get_mapping,
    hubspot_v3_headers,
    now,
    post_webhook,
    progress,
    put_connector,
    put_mapping,
    quarantine,
    stored_events,
    webhook_url,
)
from tests.support import Stack, embedded_settings, running_stack

SECRET = "hs-client-secret-7f3a"
OWNERS = {"101": "r-anna", "102": "r-ben"}
FIXTURE_FILES = [
    "deal_created.json",
    "deal_amount_changed.json",
    "deal_owner_changed.json",
    "deal_won.json",
    "deal_lost.json",
    "deal_3_won.json",
    "deal_deleted.json",
    "meeting.json",
    "quote.json",
    "invoice.json",
    "ticket.json",
]


async def hubspot_connector(stack: Stack, **settings: Any) -> str:
    """A HubSpot connector with the default mapping plus two owners; its endpoint id."""
    secrets = {"client_secret": SECRET, **settings.pop("secrets", {})}
    out = await put_connector(stack, "hubspot", settings=settings, secrets=secrets)
    assert out["secrets"] == {name: "[redacted]" for name in sorted(secrets)}
    mapping = await get_mapping(stack, "hubspot")
    mapping["owners"] = OWNERS
    await put_mapping(stack, "hubspot", mapping)
    endpoint: str = out["endpoint_id"]
    return endpoint


async def send(stack: Stack, endpoint: str, name: str) -> dict[str, Any]:
    """POST a fixture batch signed with v3; the JSON answer (200 required)."""
    body = fixture(f"hubspot/{name}")
    headers = hubspot_v3_headers(SECRET, webhook_url("hubspot", endpoint), body, now())
    resp = await post_webhook(stack, "hubspot", endpoint, body, headers)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def test_every_fixture_names_its_documentation() -> None:
    for name in [
        *FIXTURE_FILES,
        "unknown_stage.json",
        "unknown_object.json",
        "id_only_creation.json",
    ]:
        assert "developers.hubspot.com" in fixture_source(f"hubspot/{name}")


async def test_each_payload_kind_maps_to_the_expected_canonical_events(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint = await hubspot_connector(s)
    answers = {name: await send(s, endpoint, name) for name in FIXTURE_FILES}
    assert answers["deal_created.json"]["accepted"] == 6
    assert answers["deal_created.json"]["quarantined"] == 0
    await s.wait_scored()
    events = await stored_events(s, "hubspot")

    # deal created: all six events of the batch carry the complete record
    created = events["hs-0-3-1001-1793584800000-101"]
    assert created == {
        "event_id": "hs-0-3-1001-1793584800000-101",
        "type": "deal",
        "occurred_at": "2026-11-02T02:00:00Z",
        "rep_id": "r-anna",
        "entity_id": "1001",
        "version": "2026-11-02T02:00:00Z",
        "deleted": False,
        "amount": "5000",
        "currency": "CNY",
        "stage": "open",
        "attributes": {"deal_name": "Acme rollout"},
    }
    assert events["hs-0-3-1001-1793584800000-106"] == {
        **created,
        "event_id": "hs-0-3-1001-1793584800000-106",
    }
    # amount changed
    amount = events["hs-0-3-1001-1793847600000-107"]
    assert (amount["amount"], amount["rep_id"], amount["stage"]) == ("6000", "r-anna", "open")
    assert amount["version"] == "2026-11-05T03:00:00Z"
    # owner changed
    owner = events["hs-0-3-1001-1794110400000-108"]
    assert (owner["rep_id"], owner["amount"], owner["version"]) == (
        "r-ben",
        "6000",
        "2026-11-08T04:00:00Z",
    )
    # stage won (with its close date)
    won = events["hs-0-3-1001-1795140000000-109"]
    assert (won["stage"], won["closed_at"], won["rep_id"], won["amount"]) == (
        "won",
        "2026-11-20T02:00:00Z",
        "r-ben",
        "6000",
    )
    # stage lost
    lost = events["hs-0-3-1002-1794981600000-112"]
    assert (lost["stage"], lost["rep_id"], lost["amount"], lost["closed_at"]) == (
        "lost",
        "r-anna",
        "3000",
        "2026-11-18T06:00:00Z",
    )
    # deleted
    deleted = events["hs-0-3-1003-1795395600000-120"]
    assert (deleted["deleted"], deleted["entity_id"], deleted["rep_id"]) == (True, "1003", "r-anna")
    # an activity: the meeting is an onsite visit on its start time
    visit = events["hs-0-47-3001-1794276000000-121"]
    assert (visit["type"], visit["channel"], visit["occurred_at"], visit["rep_id"]) == (
        "visit",
        "onsite",
        "2026-11-10T02:00:00Z",
        "r-anna",
    )
    # quote approved = sent
    quote = events["hs-0-14-4001-1794708000000-125"]
    assert (quote["type"], quote["status"], quote["amount"]) == ("quote", "sent", "8000")
    # invoice paid
    invoice = events["hs-0-53-5001-1795230000000-129"]
    assert invoice["type"] == "payment"
    assert (invoice["invoice_id"], invoice["amount_due"], invoice["amount_paid"]) == (
        "5001",
        "8000",
        "8000",
    )
    assert (invoice["due_date"], invoice["paid_at"]) == ("2026-11-25", "2026-11-21T03:00:00Z")
    # ticket = complaint
    ticket = events["hs-0-5-6001-1794445200000-134"]
    assert (ticket["type"], ticket["severity"], ticket["opened_at"]) == (
        "complaint",
        "HIGH",
        "2026-11-12T01:00:00Z",
    )
    assert ticket["first_response_at"] == "2026-11-12T05:00:00Z"

    # the facts after the pipeline (Asia/Shanghai days)
    assert await facts(s, "revenue") == {("r-ben", "2026-11-20"): Decimal("6000")}
    assert await facts(s, "deals_won") == {("r-ben", "2026-11-20"): Decimal(1)}
    assert await facts(s, "win_rate", "rep") == {("r-ben",): Decimal(1), ("r-anna",): Decimal(0)}
    assert await facts(s, "visits") == {("r-anna", "2026-11-10"): Decimal(1)}
    assert await facts(s, "quotes") == {("r-anna", "2026-11-15"): Decimal(1)}
    assert await facts(s, "payments_collected") == {("r-anna", "2026-11-21"): Decimal("8000")}
    assert await facts(s, "response_hours", "rep") == {("r-anna",): Decimal(4)}
    assert await progress(s, "revenue") == Decimal("6000")
    assert await quarantine(s) == []


async def test_a_resent_batch_is_acknowledged_and_counted_once(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await hubspot_connector(s)
    first = await send(s, endpoint, "deal_3_won.json")
    assert first["accepted"] == 4
    await s.wait_scored()
    # HubSpot's retry, inside the window: every event is one scoring already has, so each
    # item is answered "duplicate" (issue 16: a retry is told apart from new data).
    again = await send(s, endpoint, "deal_3_won.json")
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    assert {r["status"] for r in again["results"]} == {"duplicate"}
    assert sorted(e for r in again["results"] for e in r["event_ids"]) == [
        f"hs-0-3-1003-1795071600000-{n}" for n in (116, 117, 118, 119)
    ]
    await s.wait_scored()
    assert len(await stored_events(s, "hubspot")) == 4
    assert await facts(s, "revenue") == {("r-anna", "2026-11-19"): Decimal("9000")}


# -- signatures ------------------------------------------------------------------------------


def test_hubspot_documented_v1_example() -> None:
    # https://developers.hubspot.com/docs/faq/v1-request-validation
    body = (
        b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
        b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
    )
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    expected = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert hubspot_v1_signature(secret, body=body) == expected
    headers = {"x-hubspot-signature": expected, "x-hubspot-signature-version": "v1"}
    scheme = verify_hubspot(headers, method="POST", uri="", body=body, secret=secret, now=now())
    assert scheme == "v1"


def test_hubspot_documented_v2_example() -> None:
    # https://developers.hubspot.com/docs/faq/v2-request-validation (GET, no body)
    secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
    sig = hubspot_v2_signature(
        secret, method="GET", uri="https://www.example.com/webhook_uri", body=b""
    )
    assert sig == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"


def test_v3_decodes_the_listed_characters_and_checks_the_window() -> None:
    at = now()
    ts = str(int(at.timestamp() * 1000))
    body = b"[]"
    sig = hubspot_v3_signature(
        "s", method="POST", uri="https://x.test/hook?a=b%3Ac", body=body, timestamp=ts
    )
    assert sig == hubspot_v3_signature(
        "s", method="POST", uri="https://x.test/hook?a=b:c", body=body, timestamp=ts
    )
    headers = {"x-hubspot-signature-v3": sig, "x-hubspot-request-timestamp": ts}
    ok = verify_hubspot(
        headers, method="POST", uri="https://x.test/hook?a=b%3Ac", body=body, secret="s", now=at
    )
    assert ok == "v3"
    with pytest.raises(SignatureError, match="stale"):
        verify_hubspot(
            headers,
            method="POST",
            uri="https://x.test/hook?a=b:c",
            body=body,
            secret="s",
            now=at + timedelta(minutes=6),
        )


@pytest.mark.parametrize("case", ["wrong_secret", "stale", "tampered", "missing", "legacy_only"])
async def test_bad_signatures_answer_401_and_store_nothing(
    embedded_stack: Stack, case: str
) -> None:
    s = embedded_stack
    endpoint = await hubspot_connector(s, require_v3=(case == "legacy_only"))
    body = fixture("hubspot/deal_3_won.json")
    url = webhook_url("hubspot", endpoint)
    headers = {
        "wrong_secret": hubspot_v3_headers("not-the-secret", url, body, now()),
        "stale": hubspot_v3_headers(SECRET, url, body, now() - timedelta(minutes=10)),
        "tampered": hubspot_v3_headers(SECRET, url, body.replace(b"9000", b"9"), now()),
        "missing": {},
        "legacy_only": {
            "X-HubSpot-Signature": hubspot_v1_signature(SECRET, body=body),
            "X-HubSpot-Signature-Version": "v1",
        },
    }[case]
    resp = await post_webhook(s, "hubspot", endpoint, body, headers)
    assert resp.status_code == 401, resp.text
    err = resp.json()["error"]
    assert err["code"] == "unauthorized"
    assert SECRET not in resp.text
    await s.wait_scored()
    assert await counts(s) == (0, 0, 0)


async def test_legacy_v2_signature_is_accepted_by_default(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await hubspot_connector(s)
    body = fixture("hubspot/deal_3_won.json")
    url = webhook_url("hubspot", endpoint)
    headers = {
        "X-HubSpot-Signature": hubspot_v2_signature(SECRET, method="POST", uri=url, body=body),
        "X-HubSpot-Signature-Version": "v2",
    }
    resp = await post_webhook(s, "hubspot", endpoint, body, headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 4


async def test_unknown_endpoint_answers_401(embedded_stack: Stack) -> None:
    s = embedded_stack
    await hubspot_connector(s)
    body = fixture("hubspot/deal_3_won.json")
    resp = await post_webhook(s, "hubspot", "not-an-endpoint", body, {})
    assert resp.status_code == 401
    resp = await s.client.post("/v1/webhooks/hubspot", content=body)
    assert resp.status_code == 401
    assert await counts(s) == (0, 0, 0)


# -- enrichment through the CRM API ------------------------------------------------------------


DEAL_7001 = {
    "id": "7001",
    "properties": {
        "dealstage": "closedwon",
        "amount": "12000",
        "hubspot_owner_id": "101",
        "closedate": "2026-11-22T03:00:00Z",
        "deal_currency_code": "CNY",
        "dealname": "Enriched",
        "hs_lastmodifieddate": "2026-11-22T03:00:05.123Z",
    },
    "createdAt": "2026-11-22T03:00:00Z",
    "updatedAt": "2026-11-22T03:00:05.123Z",
    "archived": False,
}


async def test_id_only_payloads_are_enriched_through_the_crm_api(embedded_stack: Stack) -> None:
    s = embedded_stack
    with fake_api() as api:
        api.routes["/crm/v3/objects/0-3/7001"] = (200, DEAL_7001)
        endpoint = await hubspot_connector(
            s, api_base=api.base_url, secrets={"access_token": "pat-na1-test-token"}
        )
        out = await send(s, endpoint, "id_only_creation.json")
    assert out["accepted"] == 1, out
    assert len(api.requests) == 1
    request = api.requests[0]
    assert request["path"] == "/crm/v3/objects/0-3/7001"
    assert request["authorization"] == "Bearer pat-na1-test-token"
    asked = set(request["query"]["properties"].split(","))
    assert {"dealstage", "amount", "hubspot_owner_id", "closedate", "deal_currency_code"} <= asked
    await s.wait_scored()
    event = (await stored_events(s, "hubspot"))["hs-0-3-7001-1795316400000-143"]
    assert (event["stage"], event["amount"], event["rep_id"], event["closed_at"]) == (
        "won",
        "12000",
        "r-anna",
        "2026-11-22T03:00:00Z",
    )
    assert event["version"] == "2026-11-22T03:00:05.123000Z"
    assert await facts(s, "revenue") == {("r-anna", "2026-11-22"): Decimal("12000")}


async def test_when_the_crm_api_fails_the_item_waits_in_quarantine_then_replays(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    with fake_api() as api:
        api.routes["/crm/v3/objects/0-3/7001"] = (503, {"status": "error"})
        endpoint = await hubspot_connector(
            s, api_base=api.base_url, secrets={"access_token": "pat-na1-test-token"}
        )
        out = await send(s, endpoint, "id_only_creation.json")
        assert out["quarantined"] == 1
        kept = await quarantine(s, source="hubspot")
        assert len(kept) == 1
        assert kept[0]["reason_code"] == "enrichment_failed"
        assert "503" in kept[0]["reason"]
        api.routes["/crm/v3/objects/0-3/7001"] = (200, DEAL_7001)
        resp = await s.client.post(f"/v1/quarantine/{kept[0]['id']}/replay", headers=s.auth())
        assert resp.status_code == 200, resp.text
        body = resp.json()
    assert (body["replayed"], body["still_pending"]) == (1, 0)
    assert body["results"][0]["status"] == "replayed"
    assert body["results"][0]["result"]["event_ids"] == ["hs-0-3-7001-1795316400000-143"]
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-anna", "2026-11-22"): Decimal("12000")}
    assert await quarantine(s) == []


async def test_a_replay_never_reaches_a_private_api_base(tmp_path: Path) -> None:
    """Issue 17, hole 1: a connector saved (before the save-time check) with a loopback
    ``api_base``; with private addresses refused, a replay must not send the tenant's
    token there, nor read its answer into facts."""
    data = tmp_path / "data"
    with fake_api() as api:
        api.routes["/crm/v3/objects/0-3/7001"] = (503, {"status": "error"})
        async with running_stack("embedded", embedded_settings(data)) as s:
            endpoint = await hubspot_connector(
                s, api_base=api.base_url, secrets={"access_token": "pat-na1-test-token"}
            )
            out = await send(s, endpoint, "id_only_creation.json")
            assert out["quarantined"] == 1
        assert len(api.requests) == 1  # private addresses were allowed then
        api.routes["/crm/v3/objects/0-3/7001"] = (200, DEAL_7001)
        refusing = embedded_settings(data, outbound_allow_private=False)
        async with running_stack("embedded", refusing) as s:
            kept = await quarantine(s, source="hubspot")
            resp = await s.client.post(
                f"/v1/quarantine/{kept[0]['id']}/replay",
                headers={**s.auth(), "Accept-Language": "en"},
            )
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert (body["replayed"], body["still_pending"]) == (0, 1)
            reason = body["results"][0]["reason"]
            assert reason.endswith(
                "HubSpot API unreachable for 7001: its address is not a public address"
            ), reason
            assert await stored_events(s, "hubspot") == {}  # nothing read from the answer
        assert len(api.requests) == 1  # the replay sent nothing to the loopback server


@pytest.mark.parametrize(
    "api_base",
    ["http://127.0.0.1:9/", "http://127.1/", "http://0x7f000001/", "http://[::ffff:a9fe:a9fe]/"],
)
async def test_a_private_api_base_is_refused_when_saved(tmp_path: Path, api_base: str) -> None:
    settings = embedded_settings(tmp_path / "data", outbound_allow_private=False)
    async with running_stack("embedded", settings) as s:
        resp = await s.client.put(
            "/v1/connectors/hubspot",
            json={
                "settings": {"api_base": api_base},
                "secrets": {"client_secret": SECRET, "access_token": "pat-na1-test-token"},
            },
            headers=s.auth(),
        )
        assert resp.status_code == 422, resp.text
        fields = resp.json()["error"]["fields"]
        assert [f["field"] for f in fields] == ["settings.api_base"]
        # The tenant's language (zh-CN), the host quoted; the code for machines.
        assert fields[0]["reason_code"] == "webhooks.config.url_private"
        assert fields[0]["reason"].endswith("不是公网地址；Paceline 只访问公网地址")
        assert fields[0]["reason"].startswith("“")
        bad_port = await s.client.put(
            "/v1/connectors/hubspot",
            json={
                "settings": {"api_base": "https://api.hubapi.com:99999"},
                "secrets": {"client_secret": SECRET},
            },
            headers=s.auth(),
        )
        assert bad_port.status_code == 422, bad_port.text
        assert bad_port.json()["error"]["fields"] == [
            {
                "field": "settings.api_base",
                "reason": "“https://api.hubapi.com:99999” 不是有效的 http:// 或 https:// 网址",
                "reason_code": "webhooks.config.url_malformed",
                "reason_params": {"url": {"$code": "https://api.hubapi.com:99999"}},
            }
        ]
        listed = await s.client.get("/v1/connectors", headers=s.auth())
        assert listed.json() == []


# -- quarantine: unknown stage, unknown object --------------------------------------------------


async def test_an_unknown_stage_is_quarantined_and_replayed_after_the_mapping_is_fixed(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint = await hubspot_connector(s)
    out = await send(s, endpoint, "unknown_stage.json")
    assert (out["accepted"], out["quarantined"]) == (0, 3)
    kept = await quarantine(s, source="hubspot")
    assert {k["reason_code"] for k in kept} == {"unknown_value"}
    assert all("contractsigned-custom" in k["reason"] for k in kept)
    assert {k["record_id"] for k in kept} == {"1004"}
    detail = await s.client.get(f"/v1/quarantine/{kept[0]['id']}", headers=s.auth())
    assert detail.json()["item"]["objectId"] == 1004

    mapping = await get_mapping(s, "hubspot")
    mapping["objects"]["deal"]["values"]["stage"]["won"].append("contractsigned-custom")
    await put_mapping(s, "hubspot", mapping)
    resp = await s.client.post("/v1/quarantine/replay?source=hubspot", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert (resp.json()["replayed"], resp.json()["still_pending"]) == (3, 0)
    await s.wait_scored()
    events = await stored_events(s, "hubspot")
    assert {e["stage"] for e in events.values()} == {"won"}
    assert await facts(s, "revenue") == {("r-anna", "2026-11-16"): Decimal("700")}
    assert await quarantine(s) == []
    replayed = await quarantine(s, status="replayed")
    assert len(replayed) == 3
    assert replayed[0]["resolved_by"].startswith("key:")


async def test_an_unknown_object_type_is_quarantined(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint = await hubspot_connector(s)
    out = await send(s, endpoint, "unknown_object.json")
    assert out["quarantined"] == 1
    kept = await quarantine(s)
    assert kept[0]["reason_code"] == "unknown_object"
    assert "2-3456789" in kept[0]["reason"]


async def test_hubspot_end_to_end(stack: Stack) -> None:
    endpoint = await hubspot_connector(stack)
    for name in ["deal_created.json", "deal_owner_changed.json", "deal_won.json", "meeting.json"]:
        await send(stack, endpoint, name)
    await stack.wait_scored()
    assert await progress(stack, "revenue") == Decimal("5000")
    assert await progress(stack, "visits") == Decimal(1)
    assert await facts(stack, "revenue") == {("r-ben", "2026-11-20"): Decimal("5000")}


async def test_event_type_is_read_and_one_bad_event_quarantines_only_itself(
    embedded_stack: Stack,
) -> None:
    """Issue 16: HubSpot's guide shows ``eventType`` where the reference has
    ``subscriptionType``; such an event in a batch made the whole batch ``unparseable``
    (valid events included, and a replay could not fix it). Now it is read the same, and an
    event that is not a HubSpot event at all is quarantined alone."""
    s = embedded_stack
    endpoint = await hubspot_connector(s)
    for name in ["deal_created.json", "deal_owner_changed.json"]:
        await send(s, endpoint, name)
    events = orjson.loads(fixture("hubspot/deal_won.json"))
    events[0]["eventType"] = events[0].pop("subscriptionType")  # the dealstage change
    batch = [*events, {"not": "a HubSpot event"}]
    body = orjson.dumps(batch)
    headers = hubspot_v3_headers(SECRET, webhook_url("hubspot", endpoint), body, now())
    resp = await post_webhook(s, "hubspot", endpoint, body, headers)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    statuses = [r["status"] for r in answer["results"]]
    assert statuses == ["accepted"] * len(events) + ["quarantined"]
    [kept] = await quarantine(s)
    assert kept["reason_code"] == "unparseable"
    assert kept["reason"] == f"event [{len(events)}] is not a HubSpot webhook event"
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-ben", "2026-11-20"): Decimal("5000")}
    # the same bad event again updates its row, and a replay keeps it pending
    resp = await post_webhook(
        s,
        "hubspot",
        endpoint,
        body,
        hubspot_v3_headers(SECRET, webhook_url("hubspot", endpoint), body, now()),
    )
    assert [r["status"] for r in resp.json()["results"]][-1] == "quarantined"
    [kept] = await quarantine(s)
    assert kept["occurrences"] == 2
    replay = await s.client.post(f"/v1/quarantine/{kept['id']}/replay", headers=s.auth())
    assert replay.json()["still_pending"] == 1
