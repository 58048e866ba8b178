"""The seed's Chinese CRMs through the built-in presets of the generic connector
(services/ingest/webhooks/presets.py, docs/CONNECTORS.md): 简道云, 纷享销客, 销售易 and
金蝶云苍穹.

Per vendor, with only webhooks and the vendor-shaped fixtures: a deal created, won,
its amount changed, reassigned, deleted, and the delete replayed ends in the right facts
(and a ``duplicate`` answer); the vendor's signature good, wrong, stale and missing.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from standardwebhooks import Webhook

from tests.ingest.webhooks.support import (
    facts,
    fixture,
    fixture_source,
    get_mapping,
    now,
    progress,
    put_connector,
    put_mapping,
    quarantine,
    stored_events,
)
from tests.support import Stack

SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = "cn-crm-secret-4Kq9"
SW_SECRET = "whsec_" + "Q2hpbmVzZUNSTXMtdGVzdC1rZXktMzI="


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data[part]
    data[parts[-1]] = value


# -- how each vendor signs -------------------------------------------------------------------


def jdy_sign(body: bytes, minutes_ago: int = 0, secret: str = SECRET) -> dict[str, Any]:
    """简道云: nonce and timestamp in the query, X-JDY-Signature = sha1 of
    "{nonce}:{body}:{secret}:{timestamp}" (https://hc.jiandaoyun.com/open/11507)."""
    ts = str(int((now() - timedelta(minutes=minutes_ago)).timestamp()))
    nonce = "0f5ade"
    sig = hashlib.sha1(  # noqa: S324  # the vendor's scheme
        b":".join([nonce.encode(), body, secret.encode(), ts.encode()])
    ).hexdigest()
    return {"params": {"nonce": nonce, "timestamp": ts}, "headers": {"X-JDY-Signature": sig}}


def token_sign(body: bytes, minutes_ago: int = 0, secret: str = SECRET) -> dict[str, Any]:
    """A static token in X-Paceline-Token (纷享销客 APL, 销售易 workflow)."""
    return {"params": {}, "headers": {"X-Paceline-Token": secret}}


def sw_sign(body: bytes, minutes_ago: int = 0, secret: str = SW_SECRET) -> dict[str, Any]:
    """Standard Webhooks, as the 金蝶云苍穹 plugin signs."""
    at = now() - timedelta(minutes=minutes_ago)
    msg_id = "msg-" + hashlib.sha256(body).hexdigest()[:16]
    return {
        "params": {},
        "headers": {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        },
    }


# -- the vendors ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vendor:
    """How one vendor's deal payloads change along the flow."""

    source: str
    preset: str
    fixture: str
    secret: str
    sign: Callable[..., dict[str, Any]]
    ops: dict[str, tuple[str, str]]  # step -> (path, value)
    version: tuple[str, Callable[[datetime], Any]]
    stage: tuple[str, str]  # path, the won value
    amount: tuple[str, Any]  # path, the changed amount as the vendor writes it
    owner: tuple[str, Callable[[str], Any]]
    owners: dict[str, str]  # vendor id -> rep
    closed: tuple[str, Callable[[datetime], Any]]
    query: dict[str, str]
    stale_applies: bool = True


def _iso_z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


VENDORS = {
    "jiandaoyun": Vendor(
        source="jiandaoyun",
        preset="jiandaoyun-crm",
        fixture="jiandaoyun/opportunity_create.json",
        secret=SECRET,
        sign=jdy_sign,
        ops={"update": ("op", "data_update"), "delete": ("op", "data_remove")},
        version=("data.updateTime", _iso_z),
        stage=("data.stage", "赢单"),
        amount=("data.amount", 120000),
        owner=("data.owner", lambda u: {"name": u, "username": u, "status": 1, "type": 0}),
        owners={"anna": "r-anna", "ben": "r-ben"},
        closed=("data.close_date", _iso_z),
        query={"form": "opportunity"},
    ),
    "fxiaoke": Vendor(
        source="fxiaoke",
        preset="fxiaoke-crm",
        fixture="fxiaoke/opportunity_create.json",
        secret=SECRET,
        sign=token_sign,
        ops={"update": ("op", "update"), "delete": ("op", "delete")},
        version=("data.last_modified_time", _ms),
        stage=("data.sales_stage", "赢单"),
        amount=("data.amount", "120,000.00"),
        owner=("data.owner", lambda u: [u]),
        owners={"1001": "r-anna", "1002": "r-ben"},
        closed=("data.close_date", _ms),
        query={},
        stale_applies=False,
    ),
    "xiaoshouyi": Vendor(
        source="xiaoshouyi",
        preset="xiaoshouyi-crm",
        fixture="xiaoshouyi/opportunity_create.json",
        secret=SECRET,
        sign=token_sign,
        ops={"update": ("op", "update"), "delete": ("op", "delete")},
        version=("data.updatedAt", _ms),
        stage=("data.saleStageName", "赢单"),
        amount=("data.money", 120000),
        owner=("data.ownerId", int),
        owners={"2001": "r-anna", "2002": "r-ben"},
        closed=("data.closeDate", lambda at: at.astimezone(SHANGHAI).date().isoformat()),
        query={},
        stale_applies=False,
    ),
    "kingdee": Vendor(
        source="kingdee",
        preset="kingdee-cosmic",
        fixture="kingdee/opportunity_create.json",
        secret=SW_SECRET,
        sign=sw_sign,
        ops={"update": ("op", "save"), "delete": ("op", "delete")},
        version=("data.modifytime", _local),
        stage=("data.stage.name", "赢单"),
        amount=("data.amount", "12万"),
        owner=("data.owner", lambda u: {"id": 1, "number": u, "name": u}),
        owners={"anna": "r-anna", "ben": "r-ben"},
        closed=("data.closedate", _local),
        query={},
    ),
}
OWNER_IDS = {
    "jiandaoyun": ("anna", "ben"),
    "fxiaoke": ("1001", "1002"),
    "xiaoshouyi": ("2001", "2002"),
    "kingdee": ("anna", "ben"),
}

T_WON = datetime(2026, 11, 16, 14, 0, tzinfo=SHANGHAI)
T_AMOUNT = datetime(2026, 11, 17, 9, 0, tzinfo=SHANGHAI)
T_OWNER = datetime(2026, 11, 18, 9, 0, tzinfo=SHANGHAI)
T_DELETE = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)


def test_every_fixture_names_its_documentation() -> None:
    for name in ["opportunity", "followup", "contract", "payment", "complaint", "customer"]:
        assert "hc.jiandaoyun.com/open/10732" in fixture_source(f"jiandaoyun/{name}_create.json")
    assert "apifox.com/apidoc/docs-site/528859" in fixture_source("fxiaoke/opportunity_create.json")
    assert "docs/CONNECTORS.md#销售易" in fixture_source("xiaoshouyi/opportunity_create.json")
    assert "docs/CONNECTORS.md#金蝶云苍穹" in fixture_source("kingdee/opportunity_create.json")


async def preset_connector(s: Stack, v: Vendor) -> str:
    """The vendor's connector from its preset, with the owners added to the mapping."""
    out = await put_connector(
        s, v.source, settings={"preset": v.preset}, secrets={"secret": v.secret}
    )
    assert out["settings"]["preset"] == v.preset
    mapping = await get_mapping(s, v.source)
    assert mapping["default_currency"] == "CNY"
    await put_mapping(s, v.source, {**mapping, "owners": v.owners})
    endpoint: str = out["endpoint_id"]
    return endpoint


async def send(
    s: Stack, v: Vendor, endpoint: str, payload: dict[str, Any], **sign: Any
) -> dict[str, Any]:
    """Post one vendor payload, signed; the answer's one item."""
    body = orjson.dumps(payload)
    signed = v.sign(body, **sign)
    resp = await s.client.post(
        f"/v1/webhooks/{v.source}",
        params={"endpoint": endpoint, **v.query, **signed["params"]},
        content=body,
        headers={"Content-Type": "application/json", **signed["headers"]},
    )
    assert resp.status_code == 200, resp.text
    [item] = resp.json()["results"]
    return dict(item)


@pytest.mark.parametrize("vendor", sorted(VENDORS))
async def test_a_deal_flow_with_only_webhooks(embedded_stack: Stack, vendor: str) -> None:
    """Create, won, amount change, owner change, delete, replay: the facts follow."""
    s = embedded_stack
    v = VENDORS[vendor]
    ben = OWNER_IDS[vendor][1]  # the fixture's owner is the first: r-anna
    endpoint = await preset_connector(s, v)
    state = orjson.loads(fixture(v.fixture))

    def step(at: datetime, op: str = "update", **changes: Any) -> dict[str, Any]:
        path, value = v.ops[op]
        _set(state, path, value)
        _set(state, v.version[0], v.version[1](at))
        for key, value in changes.items():
            _set(state, key, value)
        return copy.deepcopy(state)

    first = await send(s, v, endpoint, copy.deepcopy(state))
    assert first["status"] == "accepted", first
    await s.wait_scored()
    assert await facts(s, "revenue") == {}
    assert await facts(s, "deals_won") == {}

    won = step(T_WON, **{v.stage[0]: v.stage[1], v.closed[0]: v.closed[1](T_WON)})
    assert (await send(s, v, endpoint, won))["status"] == "accepted"
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-anna", "2026-11-16"): Decimal(100000)}

    changed = step(T_AMOUNT, **{v.amount[0]: v.amount[1]})
    assert (await send(s, v, endpoint, changed))["status"] == "accepted"
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-anna", "2026-11-16"): Decimal(120000)}

    moved = step(T_OWNER, **{v.owner[0]: v.owner[1](ben)})
    assert (await send(s, v, endpoint, moved))["status"] == "accepted"
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-ben", "2026-11-16"): Decimal(120000)}
    assert await facts(s, "deals_won") == {("r-ben", "2026-11-16"): Decimal(1)}

    removed = step(T_DELETE, op="delete")
    answer = await send(s, v, endpoint, removed)
    assert answer["status"] == "accepted"
    await s.wait_scored()
    assert await facts(s, "revenue") == {}
    assert await facts(s, "deals_won") == {}

    replay = await send(s, v, endpoint, removed)
    assert replay["status"] == "duplicate"
    assert replay["event_ids"] == answer["event_ids"]
    await s.wait_scored()
    assert await facts(s, "revenue") == {}
    events = await stored_events(s, v.source)
    assert len(events) == 5  # the replay was not appended again
    assert {e["currency"] for e in events.values()} == {"CNY"}
    assert await quarantine(s) == []


@pytest.mark.parametrize("vendor", sorted(VENDORS))
@pytest.mark.parametrize("case", ["good", "wrong", "stale", "missing"])
async def test_the_vendors_signature(embedded_stack: Stack, vendor: str, case: str) -> None:
    s = embedded_stack
    v = VENDORS[vendor]
    if case == "stale" and not v.stale_applies:
        pytest.skip("a static token carries no time")
    endpoint = await preset_connector(s, v)
    body = fixture(v.fixture)
    signed = {
        "good": v.sign(body),
        "wrong": v.sign(body, secret="whsec_" + "V3JvbmdTZWNyZXQtd3Jvbmctd3Jvbmc="),
        "stale": v.sign(body, minutes_ago=6),
        "missing": {"params": {}, "headers": {}},
    }[case]
    resp = await s.client.post(
        f"/v1/webhooks/{v.source}",
        params={"endpoint": endpoint, **v.query, **signed["params"]},
        content=body,
        headers={"Content-Type": "application/json", **signed["headers"]},
    )
    if case == "good":
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 1
    else:
        assert resp.status_code == 401, resp.text
        assert v.secret not in resp.text


async def test_jiandaoyun_crm_forms_become_their_events(embedded_stack: Stack) -> None:
    """The 简道云CRM preset's seven forms, one push URL each (``&form=...``)."""
    s = embedded_stack
    v = VENDORS["jiandaoyun"]
    endpoint = await preset_connector(s, v)
    forms = ["customer", "followup", "opportunity", "quote", "contract", "payment", "complaint"]
    for form in forms:
        body = fixture(f"jiandaoyun/{form}_create.json")
        signed = jdy_sign(body)
        resp = await s.client.post(
            "/v1/webhooks/jiandaoyun",
            params={"endpoint": endpoint, "form": form, **signed["params"]},
            content=body,
            headers={"Content-Type": "application/json", **signed["headers"]},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 1, (form, resp.json())
    await s.wait_scored()
    events = {e["entity_id"]: e for e in (await stored_events(s, "jiandaoyun")).values()}
    by_type = {e["type"]: e for e in events.values()}
    assert sorted(by_type) == ["complaint", "deal", "lead", "payment", "quote", "visit"]
    contract = events["6562c3d4e5f6a7b8c9d0e123"]
    assert (contract["type"], contract["amount_due"], contract["invoice_id"]) == (
        "payment",
        "120000",
        "6562c3d4e5f6a7b8c9d0e123",
    )
    paid = events["6563d4e5f6a7b8c9d0e1f234"]
    assert (paid["amount_paid"], paid["invoice_id"]) == ("36000.00", contract["entity_id"])
    assert by_type["visit"]["channel"] == "onsite"
    assert by_type["quote"]["status"] == "sent"
    assert by_type["lead"]["source"] == "展会"
    assert by_type["complaint"]["rep_id"] == "r-ben"
    assert await facts(s, "visits") == {("r-anna", "2026-11-11"): Decimal(1)}
    assert await facts(s, "payments_collected") == {("r-anna", "2026-11-20"): Decimal(36000)}
    assert await facts(s, "quotes") == {("r-anna", "2026-11-12"): Decimal(1)}
    assert await facts(s, "new_opportunities") == {("r-anna", "2026-11-09"): Decimal(1)}
    assert await quarantine(s) == []


async def test_presets_are_listed_and_an_unknown_one_is_refused(embedded_stack: Stack) -> None:
    s = embedded_stack
    resp = await s.client.get("/v1/connector-adapters", headers=s.auth())
    [generic] = [a for a in resp.json() if a["name"] == "generic"]
    names = [p["name"] for p in generic["presets"]]
    assert names == ["jiandaoyun-crm", "fxiaoke-crm", "xiaoshouyi-crm", "kingdee-cosmic"]
    jdy = generic["presets"][0]
    assert set(jdy["objects"]) == {
        "customer",
        "followup",
        "opportunity",
        "quote",
        "contract",
        "payment",
        "complaint",
    }
    assert "https://hc.jiandaoyun.com/open/11507" in jdy["docs"]
    bad = await s.client.put(
        "/v1/connectors/jdy", json={"settings": {"preset": "jiandaoyun"}}, headers=s.auth()
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "settings.preset"


async def test_the_four_presets_end_to_end(stack: Stack) -> None:
    """A won deal from each of the four CRMs, on SQLite and on PostgreSQL + Kafka."""
    for v in VENDORS.values():
        endpoint = await preset_connector(stack, v)
        state = orjson.loads(fixture(v.fixture))
        _set(state, v.stage[0], v.stage[1])
        _set(state, v.closed[0], v.closed[1](T_WON))
        _set(state, v.version[0], v.version[1](T_WON))
        assert (await send(stack, v, endpoint, state))["status"] == "accepted"
    await stack.wait_scored()
    assert await progress(stack, "revenue") == Decimal(400000)
    assert await facts(stack, "deals_won") == {("r-anna", "2026-11-16"): Decimal(4)}


async def test_an_unknown_jiandaoyun_stage_is_kept_then_replayed_with_its_form(
    embedded_stack: Stack,
) -> None:
    """The form named by the push URL (``&form=opportunity``) stays with the quarantined
    item, so a replay after the mapping learns the stage maps it as a deal."""
    s = embedded_stack
    v = VENDORS["jiandaoyun"]
    endpoint = await preset_connector(s, v)
    state = orjson.loads(fixture(v.fixture))
    _set(state, "data.stage", "签约")
    _set(state, "data.close_date", _iso_z(T_WON))
    answer = await send(s, v, endpoint, state)
    assert answer["status"] == "quarantined"
    [kept] = await quarantine(s)
    assert (kept["reason_code"], kept["object_type"]) == ("unknown_value", "opportunity")
    assert "unknown stage '签约'" in kept["reason"]
    mapping = await get_mapping(s, "jiandaoyun")
    mapping["objects"]["opportunity"]["values"]["stage"]["won"].append("签约")
    await put_mapping(s, "jiandaoyun", mapping)
    resp = await s.client.post("/v1/quarantine/replay?source=jiandaoyun", headers=s.auth())
    assert resp.status_code == 200, resp.text
    assert resp.json()["replayed"] == 1
    await s.wait_scored()
    assert await facts(s, "revenue") == {("r-anna", "2026-11-16"): Decimal(100000)}
