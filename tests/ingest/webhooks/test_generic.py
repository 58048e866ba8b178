"""Generic connectors: Standard Webhooks-signed canonical events, and the field-mapping
recipes for 简道云, 纷享销客 and 销售易 (docs/CONNECTORS.md); unparseable bodies kept."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from standardwebhooks import Webhook

from paceline.ingest.webhooks.signatures import SignatureError, verify_standard_webhook
from tests.ingest.webhooks.support import (
    counts,
    facts,
    fixture,
    fixture_source,
    now,
    post_webhook,
    progress,
    put_connector,
    put_mapping,
    quarantine,
    stored_events,
)
from tests.support import Stack

JDY_SECRET = "jdy-secret-5dQx"
FX_TOKEN = "fx-token-Lr82kq"


def sw_headers(secret: str, body: bytes, msg_id: str, minutes_ago: int = 0) -> dict[str, str]:
    """Standard Webhooks headers from the reference library."""
    at = now() - timedelta(minutes=minutes_ago)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def test_every_fixture_names_its_documentation() -> None:
    assert "standard-webhooks" in fixture_source("generic/canonical_events.json")
    assert "standard-webhooks" in fixture_source("generic/canonical_lifecycle.json")
    assert "hc.jiandaoyun.com" in fixture_source("generic/jiandaoyun_data_update.json")
    assert "hc.jiandaoyun.com" in fixture_source("generic/jiandaoyun_data_remove.json")
    assert "docs/CONNECTORS.md" in fixture_source("generic/fxiaoke_opportunity.json")
    assert "docs/CONNECTORS.md" in fixture_source("generic/xiaoshouyi_opportunity.json")
    assert "docs.twenty.com" in fixture_source("generic/twenty_opportunity_updated.json")


def test_the_specifications_signature_example() -> None:
    # The Standard Webhooks libraries' shared test vector (secret, id, timestamp, payload).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    at = datetime.fromtimestamp(1614265330, tz=UTC)
    msg = verify_standard_webhook(headers, body=body, secret=secret, now=at + timedelta(seconds=5))
    assert msg == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    with pytest.raises(SignatureError, match="does not match"):
        verify_standard_webhook(
            headers, body=b'{"test": 2432232315}', secret=secret, now=at + timedelta(seconds=5)
        )
    with pytest.raises(SignatureError, match="stale"):
        verify_standard_webhook(headers, body=body, secret=secret, now=at + timedelta(minutes=6))
    several = {**headers, "webhook-signature": "v1,bm90IGl0 v2,xyz " + headers["webhook-signature"]}
    assert (
        verify_standard_webhook(several, body=body, secret=secret, now=at) == headers["webhook-id"]
    )


def svix_headers(headers: dict[str, str]) -> dict[str, str]:
    """The same headers under Svix's default names (``svix-id``...)."""
    return {k.replace("webhook-", "svix-"): v for k, v in headers.items()}


def test_svix_default_header_names_verify_like_the_specifications() -> None:
    """Issue 16: Svix sends ``svix-id``/``svix-timestamp``/``svix-signature`` unless the
    sender pays for white-labelled names; the same test vector verifies under both."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = svix_headers(
        {
            "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp": "1614265330",
            "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        }
    )
    at = datetime.fromtimestamp(1614265330, tz=UTC)
    assert verify_standard_webhook(headers, body=body, secret=secret, now=at) == (
        "msg_p5jXN8AQM9LWM0D4loKWxJek"
    )
    with pytest.raises(SignatureError, match="svix-signature does not match"):
        verify_standard_webhook(headers, body=b"{}", secret=secret, now=at)
    with pytest.raises(SignatureError, match="stale: svix-timestamp"):
        verify_standard_webhook(headers, body=body, secret=secret, now=at + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="svix-signature"):
        verify_standard_webhook(
            {k: v for k, v in headers.items() if k != "svix-signature"},
            body=body,
            secret=secret,
            now=at,
        )


async def canonical_connector(stack: Stack) -> tuple[str, str]:
    """A generic connector named crm9 (canonical events): (endpoint, generated secret)."""
    out = await put_connector(stack, "crm9")
    assert out["adapter"] == "generic"
    secret: str = out["generated_secrets"]["secret"]
    return out["endpoint_id"], secret


async def test_signed_canonical_events_reach_the_facts(embedded_stack: Stack) -> None:
    s = embedded_stack
    endpoint, secret = await canonical_connector(s)
    body = fixture("generic/canonical_events.json")
    resp = await post_webhook(s, "crm9", endpoint, body, sw_headers(secret, body, "msg_1"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    await s.wait_scored()
    # the same delivery again (a retry inside the window): acknowledged as a duplicate
    resp = await post_webhook(s, "crm9", endpoint, body, sw_headers(secret, body, "msg_1"))
    assert (resp.json()["accepted"], resp.json()["duplicates"]) == (0, 2)
    # one more event beside the replayed ones: only it is new
    events = orjson.loads(body)
    extra = {**events[1], "event_id": "crm9-visit-982", "occurred_at": "2026-11-16T15:00:00+08:00"}
    mixed = orjson.dumps([*events, extra])
    resp = await post_webhook(s, "crm9", endpoint, mixed, sw_headers(secret, mixed, "msg_2"))
    assert [r["status"] for r in resp.json()["results"]] == ["duplicate", "duplicate", "accepted"]
    await s.wait_scored()
    events = await stored_events(s, "crm9")
    assert sorted(events) == ["crm9-deal-77-v3", "crm9-visit-981", "crm9-visit-982"]
    assert events["crm9-deal-77-v3"]["attributes"] == {"region": "east"}
    assert await facts(s, "revenue") == {("u-17", "2026-11-16"): Decimal("15800.00")}
    assert await facts(s, "visits") == {("u-17", "2026-11-16"): Decimal(2)}


async def test_each_canonical_kind_maps_to_the_expected_events_and_facts(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint, secret = await canonical_connector(s)
    await put_mapping(s, "crm9", {"owners": {"u-17": "r-anna", "u-18": "r-ben"}})
    body = fixture("generic/canonical_lifecycle.json")
    resp = await post_webhook(s, "crm9", endpoint, body, sw_headers(secret, body, "msg_life"))
    assert resp.status_code == 200, resp.text
    assert (resp.json()["accepted"], resp.json()["quarantined"]) == (11, 0)
    await s.wait_scored()
    events = await stored_events(s, "crm9")
    assert len(events) == 11
    # the canonical event as sent, with the owner mapped (u-18 -> r-ben)
    assert events["crm9-deal-80-v3"] == {
        "event_id": "crm9-deal-80-v3",
        "type": "deal",
        "occurred_at": "2026-11-08T10:00:00+08:00",
        "rep_id": "r-ben",
        "customer_id": "c-600",
        "entity_id": "deal-80",
        "version": 3,
        "deleted": False,
        "amount": "12000.00",
        "currency": "CNY",
        "stage": "open",
        "attributes": {},
    }
    assert {e["rep_id"] for e in events.values()} == {"r-anna", "r-ben"}
    assert events["crm9-deal-80-v2"]["amount"] == "12000.00"
    assert events["crm9-deal-82-v2"]["deleted"] is True
    assert events["crm9-invoice-7-v2"]["amount_paid"] == "8000.00"
    # deal 80 won by Ben (its new owner) for the changed amount; 81 lost; 82 deleted
    assert await facts(s, "revenue") == {("r-ben", "2026-11-18"): Decimal("12000.00")}
    assert await facts(s, "win_rate", "rep") == {("r-ben",): Decimal(1), ("r-anna",): Decimal(0)}
    assert await facts(s, "visits") == {("r-anna", "2026-11-10"): Decimal(1)}
    assert await facts(s, "quotes") == {("r-anna", "2026-11-12"): Decimal(1)}
    assert await facts(s, "payments_collected") == {("r-anna", "2026-11-21"): Decimal(8000)}
    assert await facts(s, "response_hours", "rep") == {("r-anna",): Decimal("2.5")}
    assert await quarantine(s) == []


async def test_svix_signed_events_are_accepted(embedded_stack: Stack) -> None:
    """A Svix-powered sender's default headers: 200 and logged (they got 401 before)."""
    s = embedded_stack
    endpoint, secret = await canonical_connector(s)
    body = fixture("generic/canonical_events.json")
    signed = svix_headers(sw_headers(secret, body, "msg_svix_1"))
    resp = await post_webhook(s, "crm9", endpoint, body, signed)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    wrong = svix_headers(sw_headers("whsec_" + "B" * 32, body, "msg_svix_2"))
    resp = await post_webhook(s, "crm9", endpoint, body, wrong)
    assert resp.status_code == 401
    await s.wait_scored()
    assert sorted(await stored_events(s, "crm9")) == ["crm9-deal-77-v3", "crm9-visit-981"]


@pytest.mark.parametrize("case", ["wrong", "stale", "missing", "garbage"])
async def test_bad_standard_webhook_signatures_answer_401(embedded_stack: Stack, case: str) -> None:
    s = embedded_stack
    endpoint, secret = await canonical_connector(s)
    body = fixture("generic/canonical_events.json")
    headers = {
        "wrong": sw_headers("whsec_" + "B" * 32, body, "m"),
        "stale": sw_headers(secret, body, "m", minutes_ago=6),
        "missing": {},
        "garbage": {"webhook-id": "m", "webhook-timestamp": "x", "webhook-signature": "v1"},
    }[case]
    resp = await post_webhook(s, "crm9", endpoint, body, headers)
    assert resp.status_code == 401, resp.text
    assert secret not in resp.text
    assert await counts(s) == (0, 0, 0)


async def test_a_signed_body_that_cannot_be_read_is_kept_then_discarded(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint, secret = await canonical_connector(s)
    body = b'{"event_id": "x", "type": "visit", '  # cut short
    resp = await post_webhook(s, "crm9", endpoint, body, sw_headers(secret, body, "m"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["quarantined"] == 1
    (kept,) = await quarantine(s)
    assert kept["reason_code"] == "unparseable"
    detail = (await s.client.get(f"/v1/quarantine/{kept['id']}", headers=s.auth())).json()
    assert detail["item"]["__raw_body__"] == body.decode()
    replay = await s.client.post(f"/v1/quarantine/{kept['id']}/replay", headers=s.auth())
    assert (replay.json()["replayed"], replay.json()["still_pending"]) == (0, 1)
    assert replay.json()["results"][0]["attempts"] == 1
    again = await s.client.post(
        f"/v1/quarantine/{kept['id']}/discard", json={"note": "garbage"}, headers=s.auth()
    )
    assert again.json()["status"] == "discarded"
    conflict = await s.client.post(f"/v1/quarantine/{kept['id']}/replay", headers=s.auth())
    assert conflict.status_code == 409


async def test_an_invalid_canonical_event_is_kept_and_the_good_ones_logged(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    endpoint, secret = await canonical_connector(s)
    body = (
        b'[{"event_id": "ok-1", "type": "visit", "occurred_at": "2026-11-10T10:00:00+08:00",'
        b' "rep_id": "u-1"}, {"event_id": "bad-1", "type": "deal", "stage": "won",'
        b' "occurred_at": "2026-11-10T10:00:00+08:00", "rep_id": "u-1", "amount": "abc"}]'
    )
    resp = await post_webhook(s, "crm9", endpoint, body, sw_headers(secret, body, "m"))
    assert (resp.json()["accepted"], resp.json()["quarantined"]) == (1, 1)
    (kept,) = await quarantine(s)
    assert kept["reason_code"] == "invalid_event"
    assert "amount" in kept["reason"]
    await s.wait_scored()
    assert await facts(s, "visits") == {("u-1", "2026-11-10"): Decimal(1)}


async def test_mapped_records_that_fail_the_intake_checks_are_kept_with_the_reason(
    embedded_stack: Stack,
) -> None:
    """Mapped records are validated once, before append, by the complete intake check:
    what only that check refuses (a date more than a year ahead, a NUL character) is
    quarantined with the field and reason; the good record of the same body is logged."""
    s = embedded_stack
    token = "rec-token-7Hq2"
    out = await put_connector(
        s,
        "crm7",
        settings={
            "signature": "token",
            "format": "records",
            "items_path": "records",
            "object_type": "deal",
            "record_id_path": "id",
            "version_path": "updated",
        },
        secrets={"secret": token},
        mapping={
            "objects": {
                "deal": {
                    "type": "deal",
                    "fields": {
                        "rep_id": "owner",
                        "stage": "stage",
                        "amount": "amount",
                        "customer_id": "customer",
                    },
                    "values": {"stage": {"open": ["open"], "won": ["won"]}},
                }
            },
            "owners": {"u1": "r-anna"},
            "default_currency": "CNY",
        },
    )
    ahead = (now() + timedelta(days=400)).isoformat()  # the app's clock is the wall clock
    record = {"owner": "u1", "stage": "open", "amount": "100", "customer": "c-1"}
    body = orjson.dumps(
        {
            "records": [
                {**record, "id": "d-ok", "updated": "2026-11-10T02:00:00Z"},
                {**record, "id": "d-ahead", "updated": ahead},
                {**record, "id": "d-nul", "updated": "2026-11-10T03:00:00Z", "customer": "c\x00x"},
            ]
        }
    )
    resp = await post_webhook(s, "crm7", out["endpoint_id"], body, {"X-Paceline-Token": token})
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert (answer["accepted"], answer["quarantined"]) == (1, 2), answer
    by_record = {r["record_id"]: r for r in await quarantine(s)}
    assert set(by_record) == {"d-ahead", "d-nul"}
    assert {r["reason_code"] for r in by_record.values()} == {"invalid_event"}
    # ids: source-type-record-version-<12 hex digits of the record's content>
    assert re.fullmatch(
        rf"event crm7-deal-d-ahead-{re.escape(ahead)}-[0-9a-f]{{12}}: occurred_at: "
        "is more than a year in the future",
        by_record["d-ahead"]["reason"],
    )
    assert re.fullmatch(
        r"event crm7-deal-d-nul-2026-11-10T03:00:00Z-[0-9a-f]{12}: customer_id: contains a "
        r"NUL character \(\\u0000\), which cannot be stored",
        by_record["d-nul"]["reason"],
    )
    await s.wait_scored()
    [stored] = await stored_events(s, "crm7")
    assert re.fullmatch(r"crm7-deal-d-ok-2026-11-10T02:00:00Z-[0-9a-f]{12}", stored)


# -- recipes: 简道云, 纷享销客, 销售易 -----------------------------------------------------------

JDY_MAPPING: dict[str, Any] = {
    "objects": {
        "deal": {
            "type": "deal",
            "fields": {
                "rep_id": "data._widget_1700000000005.username",
                "stage": "data._widget_1700000000002",
                "amount": "data._widget_1700000000003",
                "closed_at": "data._widget_1700000000004",
                "customer_id": "data._widget_1700000000006",
            },
            "values": {
                "stage": {
                    "open": ["跟进中", "方案报价", "商务谈判"],
                    "won": ["赢单"],
                    "lost": ["输单"],
                }
            },
            "attributes": {"deal_name": "data._widget_1700000000001"},
        }
    },
    "owners": {"anna": "r-anna"},
    "default_currency": "CNY",
}


def jdy_query(body: bytes, *, minutes_ago: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """简道云's query parameters and X-JDY-Signature, computed as its docs describe."""
    ts = str(int((now() - timedelta(minutes=minutes_ago)).timestamp()))
    nonce = "0f5ade"
    sig = hashlib.sha1(  # noqa: S324  # the vendor's scheme
        b":".join([nonce.encode(), body, JDY_SECRET.encode(), ts.encode()])
    ).hexdigest()
    return {"nonce": nonce, "timestamp": ts}, {"X-JDY-Signature": sig}


async def test_jiandaoyun_recipe(embedded_stack: Stack) -> None:
    s = embedded_stack
    out = await put_connector(
        s,
        "jiandaoyun",
        settings={
            "signature": "jiandaoyun",
            "format": "records",
            "object_type": "deal",
            "record_id_path": "data._id",
            "version_path": "data.updateTime",
            "deleted_path": "op",
            "deleted_values": ["data_remove"],
        },
        secrets={"secret": JDY_SECRET},
        mapping=JDY_MAPPING,
    )
    endpoint = out["endpoint_id"]
    for name in ["jiandaoyun_data_update.json", "jiandaoyun_data_remove.json"]:
        body = fixture(f"generic/{name}")
        query, headers = jdy_query(body)
        resp = await s.client.post(
            "/v1/webhooks/jiandaoyun",
            params={"endpoint": endpoint, **query},
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 1, resp.json()
        if name == "jiandaoyun_data_update.json":
            await s.wait_scored()
            assert await facts(s, "revenue") == {("r-anna", "2026-11-16"): Decimal(18000)}
    await s.wait_scored()
    events = await stored_events(s, "jiandaoyun")
    prefix = "jiandaoyun-deal-6551f0a2c3b4d5e6f7a8b9c0-"
    [won] = [e for i, e in events.items() if i.startswith(prefix + "2026-11-16T06:00:00.000Z-")]
    assert (won["stage"], won["amount"], won["currency"], won["customer_id"]) == (
        "won",
        "18000",
        "CNY",
        "客户-0042",
    )
    assert won["attributes"] == {"deal_name": "杭州钢铁改造项目"}
    [removed] = [e for i, e in events.items() if i.startswith(prefix + "2026-11-24T06:00:00.000Z-")]
    assert (removed["deleted"], removed["rep_id"]) == (True, "r-anna")
    assert await facts(s, "revenue") == {}
    body = fixture("generic/jiandaoyun_data_update.json")
    query, headers = jdy_query(body, minutes_ago=10)
    stale = await s.client.post(
        "/v1/webhooks/jiandaoyun",
        params={"endpoint": endpoint, **query},
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )
    assert stale.status_code == 401


FX_MAPPING: dict[str, Any] = {
    "objects": {
        "NewOpportunityObj": {
            "type": "deal",
            "fields": {
                "rep_id": "owner.0",
                "stage": "sales_stage",
                "amount": "amount",
                "closed_at": "close_date",
                "customer_id": "account_id",
            },
            "values": {
                "stage": {
                    "open": ["验证客户", "需求确定", "方案/报价", "谈判审核"],
                    "won": ["赢单"],
                    "lost": ["输单", "无效"],
                }
            },
            "deleted_when": {"is_deleted": [True]},
            "attributes": {"opportunity_name": "name"},
        }
    },
    "owners": {"1001": "r-anna"},
    "default_currency": "CNY",
}


async def test_a_jiandaoyun_remove_with_the_unchanged_update_time_withdraws_the_deal(
    embedded_stack: Stack,
) -> None:
    """Issue 16: 简道云's ``data_remove`` may carry the record's last ``updateTime``. It got
    the update's event id, was answered "accepted" and dropped as a repeat, and the won deal
    kept counting. Now its id differs (the record's content is in it), it outranks the
    update (folded 1 µs after a state of the same time), and a true replay of it is
    answered ``duplicate``."""
    s = embedded_stack
    out = await put_connector(
        s,
        "jiandaoyun",
        settings={
            "signature": "jiandaoyun",
            "format": "records",
            "object_type": "deal",
            "record_id_path": "data._id",
            "version_path": "data.updateTime",
            "deleted_path": "op",
            "deleted_values": ["data_remove"],
        },
        secrets={"secret": JDY_SECRET},
        mapping=JDY_MAPPING,
    )
    endpoint = out["endpoint_id"]
    update = orjson.loads(fixture("generic/jiandaoyun_data_update.json"))
    remove = {"op": "data_remove", "data": update["data"]}  # the same updateTime
    answers = []
    for payload in (update, remove, remove):
        body = orjson.dumps(payload)
        query, headers = jdy_query(body)
        resp = await s.client.post(
            "/v1/webhooks/jiandaoyun",
            params={"endpoint": endpoint, **query},
            content=body,
            headers={"Content-Type": "application/json", **headers},
        )
        assert resp.status_code == 200, resp.text
        answers.append(resp.json()["results"][0])
        await s.wait_scored()
        if payload is update:
            assert await facts(s, "revenue") == {("r-anna", "2026-11-16"): Decimal(18000)}
    assert [a["status"] for a in answers] == ["accepted", "accepted", "duplicate"]
    assert answers[0]["event_ids"] != answers[1]["event_ids"]
    assert answers[1]["event_ids"] == answers[2]["event_ids"]
    events = await stored_events(s, "jiandaoyun")
    assert len(events) == 2
    deleted = events[answers[1]["event_ids"][0]]
    assert deleted["deleted"] is True
    updated = events[answers[0]["event_ids"][0]]
    assert (updated["version"], deleted["version"]) == (
        "2026-11-16T06:00:00Z",
        "2026-11-16T06:00:00.000001Z",
    )
    assert await facts(s, "revenue") == {}
    assert await facts(s, "deals_won") == {}


async def test_fxiaoke_recipe_with_a_static_token(embedded_stack: Stack) -> None:
    s = embedded_stack
    out = await put_connector(
        s,
        "fxiaoke",
        settings={
            "signature": "token",
            "format": "records",
            "object_type_path": "objectApiName",
            "record_id_path": "dataId",
            "version_path": "last_modified_time",
        },
        secrets={"secret": FX_TOKEN},
        mapping=FX_MAPPING,
    )
    body = fixture("generic/fxiaoke_opportunity.json")
    bad = await post_webhook(s, "fxiaoke", out["endpoint_id"], body, {"X-Paceline-Token": "nope"})
    assert bad.status_code == 401
    resp = await post_webhook(
        s, "fxiaoke", out["endpoint_id"], body, {"X-Paceline-Token": FX_TOKEN}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 1
    await s.wait_scored()
    # close_date 1795219200000 = 2026-11-21T00:00Z = 08:00 in Shanghai
    assert await facts(s, "revenue") == {("r-anna", "2026-11-21"): Decimal("5600.00")}


async def test_xiaoshouyi_recipe_signed_by_a_relay(embedded_stack: Stack) -> None:
    s = embedded_stack
    mapping = {
        "objects": {
            "opportunity": {
                "type": "deal",
                "fields": {
                    "rep_id": "ownerId",
                    "stage": "saleStageId",
                    "amount": "money",
                    "closed_at": "closeDate",
                    "customer_id": "accountId",
                },
                "values": {"stage": {"won": ["赢单"], "lost": ["输单"], "open": ["初步接洽"]}},
                "deleted_when": {"deleted": [True]},
            }
        },
        "owners": {"2001": "r-ben"},
    }
    out = await put_connector(
        s,
        "xiaoshouyi",
        settings={
            "format": "records",
            "object_type_path": "entityType",
            "record_id_path": "id",
            "version_path": "updatedAt",
        },
        mapping=mapping,
    )
    secret = out["generated_secrets"]["secret"]
    body = fixture("generic/xiaoshouyi_opportunity.json")
    resp = await post_webhook(
        s, "xiaoshouyi", out["endpoint_id"], body, sw_headers(secret, body, "relay-1")
    )
    assert resp.status_code == 200, resp.text
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-ben", "2026-11-18"): Decimal(4200)}


async def test_generic_end_to_end(stack: Stack) -> None:
    endpoint, secret = await canonical_connector(stack)
    body = fixture("generic/canonical_events.json")
    resp = await post_webhook(stack, "crm9", endpoint, body, sw_headers(secret, body, "msg_e2e"))
    assert resp.status_code == 200, resp.text
    await stack.wait_scored()
    assert await progress(stack, "revenue") == Decimal("15800")
    assert await progress(stack, "visits") == Decimal(1)


TWENTY_SECRET = "twenty-secret-9Qm2"
TWENTY_SETTINGS: dict[str, Any] = {
    "signature": "twenty",
    "format": "records",
    "object_type_path": "objectMetadata.nameSingular",
    "record_id_path": "record.id",
    "version_path": "record.updatedAt",
    "deleted_path": "eventName",
    "deleted_values": ["opportunity.deleted"],
}
TWENTY_MAPPING: dict[str, Any] = {
    "objects": {
        "opportunity": {
            "type": "deal",
            "fields": {
                "rep_id": "record.ownerId",
                "stage": "record.stage",
                "amount": {"path": "record.amount.amountMicros", "scale": "0.000001"},
                "currency": "record.amount.currencyCode",
                "closed_at": "record.closeDate",
                "customer_id": "record.companyId",
            },
            "values": {
                "stage": {"open": ["NEW", "SCREENING", "MEETING", "PROPOSAL"], "won": ["CUSTOMER"]}
            },
        }
    },
    "owners": {"wm-anna": "r-anna"},
}


def twenty_headers(
    body: bytes, *, secret: str = TWENTY_SECRET, minutes_ago: int = 0
) -> dict[str, str]:
    """Twenty's headers, signed as its webhook job signs: hex HMAC of "{ms}:{body}"."""
    ts = str(int((now() - timedelta(minutes=minutes_ago)).timestamp() * 1000))
    sig = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Twenty-Webhook-Timestamp": ts, "X-Twenty-Webhook-Signature": sig}


async def test_twenty_signature_and_amount_micros_scaled(embedded_stack: Stack) -> None:
    """Issue 16: Twenty sends money as ``amountMicros`` (counted a million times too large)
    and signs with its own header; ``scale`` and ``signature: twenty`` fix both."""
    s = embedded_stack
    out = await put_connector(
        s, "twenty", settings=TWENTY_SETTINGS, secrets={"secret": TWENTY_SECRET}
    )
    await put_mapping(s, "twenty", TWENTY_MAPPING)
    body = fixture("generic/twenty_opportunity_updated.json")
    for bad in (
        twenty_headers(body, secret="another secret"),
        twenty_headers(body, minutes_ago=6),
        {},
    ):
        resp = await post_webhook(s, "twenty", out["endpoint_id"], body, bad)
        assert resp.status_code == 401, resp.text
    resp = await post_webhook(s, "twenty", out["endpoint_id"], body, twenty_headers(body))
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 1, resp.json()
    await s.wait_scored()
    [event] = (await stored_events(s, "twenty")).values()
    assert (event["amount"], event["currency"], event["stage"]) == ("25000.5", "USD", "won")
    assert await facts(s, "deals_won") == {("r-anna", "2026-11-18"): Decimal(1)}
    # scale is for numbers only, and not zero: the mapping names the field
    bad_mapping = {
        "objects": {
            "opportunity": {
                "type": "deal",
                "fields": {"rep_id": {"path": "record.ownerId", "scale": "2"}},
            }
        }
    }
    resp = await s.client.put("/v1/connectors/twenty/mapping", json=bad_mapping, headers=s.auth())
    assert resp.status_code == 422
    assert "fields.rep_id: scale applies to numbers only" in resp.text


def test_twenty_timestamps_in_milliseconds_or_seconds() -> None:
    from paceline.ingest.webhooks.signatures import twenty_signature, verify_twenty

    at = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    body = b'{"eventName":"opportunity.created"}'
    for ts in (str(int(at.timestamp() * 1000)), str(int(at.timestamp()))):
        sig = twenty_signature("k", timestamp=ts, body=body)
        headers = {"x-twenty-webhook-timestamp": ts, "x-twenty-webhook-signature": sig}
        verify_twenty(headers, body=body, secret="k", now=at + timedelta(minutes=4))
        with pytest.raises(SignatureError, match="stale"):
            verify_twenty(headers, body=body, secret="k", now=at + timedelta(minutes=6))
        with pytest.raises(SignatureError, match="does not match"):
            verify_twenty(headers, body=body + b" ", secret="k", now=at)


async def test_one_bad_element_of_a_batch_is_quarantined_alone(embedded_stack: Stack) -> None:
    """Issue 16: per-event quarantine inside a batch for the generic connector too — an
    element that is not a JSON object, or a record that cannot be mapped, is kept alone;
    the good records of the same delivery are logged (records and canonical bodies)."""
    s = embedded_stack
    token = "batch-token-9Zk1"
    out = await put_connector(
        s,
        "crm8",
        settings={
            "signature": "token",
            "format": "records",
            "items_path": "records",
            "object_type": "deal",
            "record_id_path": "id",
            "version_path": "updated",
        },
        secrets={"secret": token},
        mapping={
            "objects": {
                "deal": {
                    "type": "deal",
                    "fields": {"rep_id": "owner", "stage": "stage", "amount": "amount"},
                    "values": {"stage": {"won": ["won"], "open": ["open"]}},
                }
            },
            "default_currency": "CNY",
        },
    )
    good = {"id": "d-1", "owner": "u1", "stage": "won", "amount": "5万", "updated": "2026-11-10"}
    unknown = {**good, "id": "d-2", "stage": "maybe"}
    body = orjson.dumps({"records": [good, 42, unknown]})
    resp = await post_webhook(s, "crm8", out["endpoint_id"], body, {"X-Paceline-Token": token})
    assert resp.status_code == 200, resp.text
    assert [r["status"] for r in resp.json()["results"]] == [
        "accepted",
        "quarantined",
        "quarantined",
    ]
    kept = {q["reason_code"]: q for q in await quarantine(s)}
    assert set(kept) == {"unparseable", "unknown_value"}
    assert kept["unparseable"]["reason"] == "element [1] is not a JSON object"
    await s.wait_scored()
    assert await facts(s, "revenue") == {("u1", "2026-11-10"): Decimal(50000)}
    # the same for canonical events
    endpoint, secret = await canonical_connector(s)
    events = orjson.loads(fixture("generic/canonical_events.json"))
    mixed = orjson.dumps([events[0], "not an event", events[1]])
    resp = await post_webhook(s, "crm9", endpoint, mixed, sw_headers(secret, mixed, "msg_mix"))
    assert [r["status"] for r in resp.json()["results"]] == [
        "accepted",
        "quarantined",
        "accepted",
    ]


async def test_a_mapping_transform_that_cannot_work_is_refused_naming_the_field(
    embedded_stack: Stack,
) -> None:
    s = embedded_stack
    await canonical_connector(s)
    fields = {
        "rep_id": "owner",
        "closed_at": {"path": "closed", "format": "%Y-%m-%d %H:%M", "tz": "Asia/Shang"},
    }
    resp = await s.client.put(
        "/v1/connectors/crm9/mapping",
        json={"objects": {"deal": {"type": "deal", "fields": fields}}},
        headers=s.auth(),
    )
    assert resp.status_code == 422, resp.text
    assert "fields.closed_at: tz 'Asia/Shang' is not an IANA time zone" in resp.text
