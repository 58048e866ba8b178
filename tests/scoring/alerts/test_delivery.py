"""Deliveries to a real local subscriber: signatures, retries, restarts, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paceline.scoring.alerting import Alerting
from paceline.scoring.delivery.dispatcher import Dispatcher, RetryPolicy, parse_retry_after
from paceline.scoring.delivery.formats import dingtalk_sign, feishu_sign
from paceline.shared.clock import FixedClock
from paceline.shared.db.models_alerts import Delivery, DeliveryAttempt, Subscription
from paceline.shared.eventlog.embedded import EmbeddedEventLog
from paceline.shared.eventlog.kafka import KafkaEventLog
from paceline.shared.settings import Settings
from tests.scoring.alerts.subscriber import Subscriber, subscriber
from tests.scoring.delivery.vendor_shapes import check, text_of
from tests.support import Stack, distributed_settings, embedded_settings, running_stack

START = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai

Clocked = tuple[Stack, FixedClock]


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    """Wait until ``check`` holds (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.05)


def _settings(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    extra: dict[str, Any] = {"alerts_tick_s": 0, "delivery_poll_s": 0.05}
    if mode == "embedded":
        return embedded_settings(tmp_path / "data", **extra)
    url: str = request.getfixturevalue("migrated_database_url")
    kafka: str = request.getfixturevalue("kafka_bootstrap")
    return distributed_settings(url, kafka, data_dir=tmp_path / "data", **extra)


@pytest.fixture
async def clocked(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Clocked]:
    """An embedded stack on a fixed clock, the dispatcher loop running."""
    clock = FixedClock(START)
    async with running_stack(
        "embedded", _settings("embedded", tmp_path, request), clock=clock
    ) as s:
        yield s, clock


@pytest.fixture(params=["embedded", "distributed"])
async def clocked_both(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Clocked]:
    """The same in both run modes."""
    clock = FixedClock(START)
    mode = str(request.param)
    async with running_stack(mode, _settings(mode, tmp_path, request), clock=clock) as s:
        yield s, clock


async def subscribe(s: Stack, url: str, **body: Any) -> dict[str, Any]:
    """POST /v1/subscriptions."""
    resp = await s.client.post(
        "/v1/subscriptions", json={"name": "ops", "url": url, **body}, headers=s.auth()
    )
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def unknown_rep_events(s: Stack, *reps: str) -> None:
    """Events by reps the org chart does not know: each raises an unknown_rep alert."""
    events = [
        {
            "event_id": f"v-{rep}",
            "type": "visit",
            "occurred_at": "2026-08-03T09:30:00+08:00",
            "rep_id": rep,
            "customer_id": f"c-{rep}",
        }
        for rep in reps
    ]
    resp = await s.post_events(events)
    assert resp.status_code == 202, resp.text
    await s.wait_scored()


async def wait_held(s: Stack) -> None:
    """Wait until the alert change is held for its group: the group's wait counts from
    then, so moving the clock before it exists would only move the wait along."""

    async def held() -> bool:
        return any(d.status == "held" for d in await deliveries(s))

    await eventually(held)


def alerting(s: Stack) -> Alerting:
    """The stack's alert engine and dispatcher."""
    out: Alerting = s.app.state.paceline.extras["alerts"]
    return out


async def deliveries(s: Stack) -> list[Delivery]:
    """Every delivery row."""
    async with s.db.transaction(write=False) as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def attempts(s: Stack) -> list[DeliveryAttempt]:
    """Every attempt row."""
    async with s.db.transaction(write=False) as session:
        return list(
            (await session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))).all()
        )


def alert_types(sub: Subscriber) -> list[tuple[str, str]]:
    """(event type, alert dedup key) of what the subscriber accepted."""
    return sorted((r.json["type"], r.json["data"]["alert"]["dedup_key"]) for r in sub.delivered())


# -- tests --------------------------------------------------------------------------------


async def test_signed_delivery_verified_with_standardwebhooks(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    with subscriber() as sub:
        created = await subscribe(s, sub.url)
        assert created["secret"].startswith("whsec_")
        assert created["format"] == "standard"
        assert created["has_secret"] is True
        sub.secret = created["secret"]
        await unknown_rep_events(s, "ghost")

        async def one_delivered() -> bool:
            return len(sub.delivered()) == 1

        await eventually(one_delivered)
        got = sub.delivered()[0]
        assert got.verified is True
        body = got.json
        assert body["type"] == "alert.opened"
        assert body["data"]["alert"]["type"] == "unknown_rep"
        assert body["data"]["alert"]["scope"] == "rep:ghost"
        assert body["data"]["alert"]["status"] == "open"
        assert got.headers["webhook-id"].startswith("msg_")
        # The secret is never shown again.
        listed = await s.client.get(f"/v1/subscriptions/{created['id']}", headers=s.auth())
        assert "secret" not in listed.json()
        assert listed.json()["has_secret"] is True
        path = f"/v1/subscriptions/{created['id']}/deliveries"

        async def logged() -> bool:
            page = (await s.client.get(path, headers=s.auth())).json()["items"]
            return bool(page) and page[0]["status"] == "delivered"

        await eventually(logged)
        items = (await s.client.get(path, headers=s.auth())).json()["items"]
        assert [(d["status"], d["attempts"], d["message_id"]) for d in items] == [
            ("delivered", 1, got.headers["webhook-id"])
        ]
        # The same alert again (another occurrence) notifies nobody.
        resp = await s.post_events(
            [
                {
                    "event_id": "v-ghost-2",
                    "type": "visit",
                    "occurred_at": "2026-08-03T09:40:00+08:00",
                    "rep_id": "ghost",
                }
            ]
        )
        assert resp.status_code == 202
        await s.wait_scored()
        await alerting(s).dispatcher.step()
        assert len(sub.all()) == 1


async def test_alerts_are_published_on_the_alerts_topic(clocked_both: Clocked) -> None:
    s, _clock = clocked_both
    await unknown_rep_events(s, "ghost")
    await alerting(s).dispatcher.step()
    settings = s.settings
    log = (
        KafkaEventLog(settings.kafka_bootstrap, topic=settings.alerts_topic)
        if settings.kafka_bootstrap
        else EmbeddedEventLog(settings.embedded_log_path, topic=settings.alerts_topic, partitions=1)
    )
    await log.start()
    consumer = log.consumer("test-reader")
    try:

        async def no_positions(_p: frozenset[int]) -> dict[int, int]:
            return {}

        await consumer.start(no_positions)
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            for rec in await consumer.getmany(max_records=100, timeout_s=0.5):
                seen.append(orjson.loads(rec.value))
        # At least once: a consumer de-duplicates by event_id.
        unique = {m["event_id"]: m for m in seen}
        assert [(m["action"], m["alert"]["dedup_key"]) for m in unique.values()] == [
            ("opened", "unknown_rep:ghost")
        ]
        assert seen[0]["tenant"] == "default"
    finally:
        await consumer.close()
        await log.close()


async def test_a_subscriber_that_fails_then_recovers_receives_every_alert(
    clocked_both: Clocked,
) -> None:
    s, clock = clocked_both
    with subscriber() as sub:
        created = await subscribe(s, sub.url)
        sub.secret = created["secret"]
        sub.answer(503, 500, 502, 503, 429, headers={"Retry-After": "120"})
        await unknown_rep_events(s, "a1", "a2", "a3")

        async def tried() -> bool:
            return len(sub.all()) >= 3

        await eventually(tried)
        # Advance time until every alert is in; each step lets due retries go out.
        for _ in range(40):
            if len({r.headers["webhook-id"] for r in sub.delivered()}) == 3:
                break
            clock.advance(timedelta(minutes=3))
            await alerting(s).dispatcher.step()
        assert alert_types(sub) == [
            ("alert.opened", "unknown_rep:a1"),
            ("alert.opened", "unknown_rep:a2"),
            ("alert.opened", "unknown_rep:a3"),
        ]
        assert all(r.verified for r in sub.all())
        # Each message delivered once; the failures were retried with the same webhook-id.
        ids = [r.headers["webhook-id"] for r in sub.delivered()]
        assert len(ids) == len(set(ids)) == 3
        rows = await deliveries(s)
        assert [d.status for d in rows] == ["delivered"] * 3
        assert sum(d.attempts for d in rows) == len(sub.all()) == 8
        tries = await attempts(s)
        assert [a.outcome for a in tries].count("retry") == 5
        throttled = [a for a in tries if a.status_code == 429]
        assert len(throttled) == 1
        assert throttled[0].next_attempt_at is not None
        assert throttled[0].next_attempt_at - throttled[0].at == timedelta(seconds=120)


async def test_dispatcher_killed_mid_retry_delivers_after_restart(clocked: Clocked) -> None:
    s, clock = clocked
    with subscriber() as sub:
        created = await subscribe(s, sub.url)
        sub.secret = created["secret"]
        sub.default_status = 503  # down
        await unknown_rep_events(s, "k1")

        async def failed_twice() -> bool:
            return len(sub.all()) >= 1

        await eventually(failed_twice)

        async def first_recorded() -> bool:  # the dispatcher records after the answer
            return len(await attempts(s)) >= 1

        await eventually(first_recorded)  # moving the clock earlier would push the retry
        clock.advance(timedelta(seconds=30))
        await eventually(lambda: _at_least(sub, 2))
        # Kill the dispatcher hard: cancel its task wherever it is (no clean shutdown).
        al = alerting(s)
        killed = [t for t in al.tasks if t.get_name() == "alert-dispatcher"]
        assert len(killed) == 1
        killed[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await killed[0]
        pending = await deliveries(s)
        assert [d.status for d in pending] == ["pending"]
        sub.default_status = 200  # the subscriber recovers
        # A new dispatcher on the same database, as a restarted process would make.
        fresh = Dispatcher(
            db=s.db,
            clock=clock,
            box=s.app.state.paceline.box,
            policy=RetryPolicy(window_s=s.settings.delivery_retry_window_s),
        )
        async with fresh:
            clock.advance(timedelta(hours=2))  # past the backoff and any lease
            await fresh.step()
        delivered = sub.delivered()
        assert [r.json["data"]["alert"]["dedup_key"] for r in delivered] == ["unknown_rep:k1"]
        assert all(r.verified for r in sub.all())
        assert len({r.headers["webhook-id"] for r in sub.all()}) == 1
        rows = await deliveries(s)
        assert [d.status for d in rows] == ["delivered"]
        # An attempt in flight when the dispatcher was killed may have reached the
        # subscriber without being recorded: recorded attempts <= requests received.
        assert 2 <= rows[0].attempts <= len(sub.all())


async def _at_least(sub: Subscriber, n: int) -> bool:
    return len(sub.all()) >= n


async def test_gone_disables_the_subscription_and_raises_an_alert(clocked: Clocked) -> None:
    s, _clock = clocked
    with subscriber() as gone, subscriber() as watcher:
        created = await subscribe(s, gone.url)
        watch = await subscribe(s, watcher.url, kinds=["system"])
        watcher.secret = watch["secret"]
        gone.default_status = 410
        await unknown_rep_events(s, "g1")
        await eventually(lambda: _at_least(gone, 1))
        await alerting(s).dispatcher.step()

        async def told() -> bool:
            await alerting(s).dispatcher.step()
            return len(watcher.delivered()) == 1

        await eventually(told)
        sub = (await s.client.get(f"/v1/subscriptions/{created['id']}", headers=s.auth())).json()
        assert sub["enabled"] is False
        assert "410" in sub["disabled_reason"]
        body = watcher.delivered()[0].json
        assert body["data"]["alert"]["type"] == "subscription_disabled"
        assert body["data"]["alert"]["severity"] == "critical"
        alerts = (
            await s.client.get("/v1/alerts", params={"kind": "system"}, headers=s.auth())
        ).json()["items"]
        assert [(a["type"], a["status"]) for a in alerts] == [("subscription_disabled", "open")]
        # Re-enabling resolves the alert.
        resp = await s.client.patch(
            f"/v1/subscriptions/{created['id']}", json={"enabled": True}, headers=s.auth()
        )
        assert resp.status_code == 200
        assert resp.json()["enabled"] is True
        alerts = (
            await s.client.get("/v1/alerts", params={"kind": "system"}, headers=s.auth())
        ).json()["items"]
        assert [a["status"] for a in alerts] == ["resolved"]


@pytest.mark.parametrize(
    "stored_url",
    ["http://hooks.example.com/a\r\nX-Injected: 1", "http://hooks.example.com:99999/", "http:///x"],
)
async def test_a_stored_invalid_url_is_dead_lettered_not_a_failed_step(
    clocked: Clocked, stored_url: str
) -> None:
    """Issue 17, hole 4: a URL with CR LF (saved before URLs were parsed strictly) failed
    the dispatcher's whole step on every attempt: never recorded, never dead-lettered.
    Now the attempt is recorded, the delivery dead-lettered at once and the subscription
    disabled; another subscriber in the same step still gets its message."""
    s, _clock = clocked
    with subscriber() as good:
        broken = await subscribe(s, "https://hooks.example.com/paceline")
        fine = await subscribe(s, good.url)
        good.secret = fine["secret"]
        box = s.app.state.paceline.box
        async with s.db.transaction() as session:
            row = await session.get(Subscription, broken["id"])
            assert row is not None
            row.url_enc = box.encrypt(stored_url)
        await unknown_rep_events(s, "u1")
        await alerting(s).dispatcher.step()
        await eventually(lambda: _at_least(good, 1))
        by_sub = {d.subscription_id: d for d in await deliveries(s)}
        dead = by_sub[broken["id"]]
        assert (dead.status, dead.attempts) == ("dead", 1)
        assert dead.last_error is not None
        assert dead.last_error.startswith("the subscription's URL is not valid (")
        tries = [a for a in await attempts(s) if a.delivery_id == dead.id]
        assert [(a.outcome, a.status_code) for a in tries] == [("dead", None)]
        out = (await s.client.get(f"/v1/subscriptions/{broken['id']}", headers=s.auth())).json()
        assert out["enabled"] is False
        # The tenant's people read why (zh-CN), with the vendor-side detail quoted as is.
        assert out["disabled_reason"] == f"接收端拒绝了请求：“{dead.last_error}”"
        assert ("alert.opened", "unknown_rep:u1") in alert_types(good)


async def test_dead_letter_after_a_day_then_manual_redelivery(clocked: Clocked) -> None:
    s, clock = clocked
    with subscriber() as sub:
        created = await subscribe(s, sub.url)
        sub.secret = created["secret"]
        sub.default_status = 500
        await unknown_rep_events(s, "d1")
        await eventually(lambda: _at_least(sub, 1))
        first = (await deliveries(s))[0]
        # Keep failing: retried, with growing delays, until a full retry window has passed.
        for _ in range(200):
            rows = await deliveries(s)
            if rows[0].status != "pending":
                break
            clock.advance(timedelta(minutes=30))
            await alerting(s).dispatcher.step()
        rows = await deliveries(s)
        assert rows[0].status == "dead"
        assert rows[0].dead_at is not None
        assert rows[0].dead_at - first.created_at >= timedelta(hours=24)
        tries = await attempts(s)
        planned = [a.next_attempt_at - a.at for a in tries if a.next_attempt_at is not None]
        assert planned[0] <= timedelta(seconds=5)  # backoff starts small,
        assert planned[0] < planned[4] < planned[8]  # grows,
        assert max(planned) <= timedelta(hours=1)  # and is capped
        # The subscription had no success for the whole window: disabled.
        sub_out = (
            await s.client.get(f"/v1/subscriptions/{created['id']}", headers=s.auth())
        ).json()
        assert sub_out["enabled"] is False
        # Re-enable, then redeliver the dead message by hand: same webhook-id, delivered.
        sub.default_status = 200
        await s.client.patch(
            f"/v1/subscriptions/{created['id']}", json={"enabled": True}, headers=s.auth()
        )
        resp = await s.client.post(
            f"/v1/subscriptions/{created['id']}/deliveries/{rows[0].id}/redeliver",
            headers=s.auth(),
        )
        assert resp.status_code == 202, resp.text
        assert resp.json()["message_id"] == rows[0].message_id
        await alerting(s).dispatcher.step()
        got = {r.headers["webhook-id"]: r for r in sub.delivered()}
        assert got[rows[0].message_id].json["data"]["alert"]["dedup_key"] == "unknown_rep:d1"
        assert all(r.verified for r in got.values())
        # ...and, since it was re-enabled, that its disabled alert is resolved.
        assert sorted(alert_types(sub)) == [
            ("alert.opened", "unknown_rep:d1"),
            ("alert.resolved", f"subscription_disabled:{created['id']}"),
        ]
        detail = (
            await s.client.get(
                f"/v1/subscriptions/{created['id']}/deliveries/{rows[0].id}", headers=s.auth()
            )
        ).json()
        assert detail["status"] == "dead"
        assert detail["attempts"] == len(detail["attempts_log"]) >= 20
        assert detail["attempts_log"][-1]["outcome"] == "dead"


@pytest.mark.parametrize("fmt", ["slack", "wecom", "dingtalk", "feishu"])
async def test_group_bot_formats(clocked: Clocked, fmt: str) -> None:
    s, clock = clocked
    with subscriber() as sub:
        body: dict[str, Any] = {"format": fmt}
        secret = "SECabc123" if fmt in ("dingtalk", "feishu") else None
        if secret:
            body["secret"] = secret
        created = await subscribe(s, sub.url + "?access_token=tok123", **body)
        assert created["secret"] is None
        assert "tok123" not in created["url"]
        if fmt == "wecom":
            sub.answer(200)  # body {"ok": true} has no errcode: accepted
        await unknown_rep_events(s, "b1")
        await wait_held(s)
        # Bot formats group alert changes: the group's message goes after group_wait (30 s).
        await alerting(s).dispatcher.step()
        assert sub.all() == []
        clock.advance(timedelta(seconds=30))
        await alerting(s).dispatcher.step()
        await eventually(lambda: _at_least(sub, 1))
        got = sub.all()[0]
        msg = got.json
        # Each vendor's documented shape (tests/scoring/delivery/vendor_shapes.py), and the
        # alert named in its text.
        assert check(fmt, msg) == []
        assert "b1" in text_of(fmt, msg)
        if fmt == "slack":
            assert msg["blocks"][0]["type"] == "header"
        elif fmt == "wecom":
            assert msg["msgtype"] == "markdown"
        elif fmt == "dingtalk":
            assert msg["msgtype"] in ("markdown", "actionCard")
            q = parse_qs(urlsplit(got.path).query)
            assert q["access_token"] == ["tok123"]
            assert q["sign"] == [dingtalk_sign("SECabc123", int(q["timestamp"][0]))]
        else:
            assert msg["msg_type"] == "interactive"  # a card: lark_md renders, text did not
            assert msg["sign"] == feishu_sign("SECabc123", int(msg["timestamp"]))
        assert got.headers["webhook-id"].startswith("msg_")


async def test_bot_error_codes_are_failures(clocked: Clocked) -> None:
    s, clock = clocked
    with subscriber() as sub:
        await subscribe(s, sub.url + "?key=k", format="wecom")
        # WeCom answers 200 with errcode != 0 for a bad key: a failure, retried.
        sub.answer(200, body=b'{"errcode": 93000, "errmsg": "invalid webhook url"}')
        await unknown_rep_events(s, "w1")
        await wait_held(s)
        clock.advance(timedelta(seconds=30))  # the group's wait
        await alerting(s).dispatcher.step()
        await eventually(lambda: _at_least(sub, 1))

        async def first_recorded() -> bool:  # the dispatcher records after the answer
            return len(await attempts(s)) == 1

        await eventually(first_recorded)
        clock.advance(timedelta(minutes=5))
        await alerting(s).dispatcher.step()
        assert len(sub.all()) == 2
    tries = await attempts(s)
    assert [(a.status_code, a.outcome) for a in tries] == [(200, "retry"), (200, "delivered")]
    assert tries[0].error == "wecom error 93000: invalid webhook url"


def test_retry_after_parses_seconds_and_dates() -> None:
    now = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Mon, 03 Aug 2026 02:05:00 GMT", now) == 300.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    import random

    policy = RetryPolicy(base_s=5, cap_s=3600, window_s=26 * 3600)
    rng = random.Random(1)
    delays = [policy.delay(n, None, rng) for n in range(1, 16)]
    for n, d in enumerate(delays, start=1):
        raw = min(3600, 5 * 2 ** (n - 1))
        assert raw / 2 <= d <= raw
    assert policy.delay(3, 42.0, rng) == 42.0


async def test_a_rotated_secret_signs_beside_the_new_one_for_the_overlap(clocked: Clocked) -> None:
    """Standard Webhooks rotation (issue 17): for ``rotation_overlap_s`` both secrets sign
    (space-separated signatures), so a receiver still on the old secret verifies; after it,
    only the new one."""
    s, clock = clocked
    with subscriber() as sub:
        created = await subscribe(s, sub.url)
        old = created["secret"]
        resp = await s.client.patch(
            f"/v1/subscriptions/{created['id']}",
            json={"rotate_secret": True, "rotation_overlap_s": 3600},
            headers=s.auth(),
        )
        assert resp.status_code == 200, resp.text
        new = resp.json()["secret"]
        assert new.startswith("whsec_")
        assert new != old
        bad = await s.client.patch(
            f"/v1/subscriptions/{created['id']}",
            json={"rotate_secret": True, "rotation_overlap_s": 8 * 86_400},
            headers=s.auth(),
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["fields"][0]["field"] == "rotation_overlap_s"

        sub.secret = old  # a receiver that has not switched yet
        await unknown_rep_events(s, "ghost")

        async def delivered(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return len(sub.delivered()) == n

            return check

        await eventually(await delivered(1))
        first = sub.delivered()[0]
        assert first.verified is True
        signatures = first.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        assert all(sig.startswith("v1,") for sig in signatures)
        Webhook(new).verify(first.body, first.headers)  # the new secret verifies as well

        # After the overlap only the new secret signs: the old receiver fails, the new one
        # verifies.
        clock.set(START + timedelta(hours=2))
        sub.secret = new
        await unknown_rep_events(s, "ghost-2")
        await eventually(await delivered(2))
        second = sub.delivered()[1]
        assert second.verified is True
        assert len(second.headers["webhook-signature"].split(" ")) == 1
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(second.body, second.headers)
