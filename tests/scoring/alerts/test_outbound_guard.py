"""Outbound calls to tenant-chosen URLs cannot reach private addresses (SSRF guard)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paceline.shared.outbound import (
    PrivateAddressRefused,
    destination_problem,
    literal_private_host,
    outbound_client,
    public_address,
    redact_url,
    url_problem,
)
from tests.scoring.alerts.subscriber import subscriber
from tests.support import Stack, embedded_settings, running_stack


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/hooks", "127.0.0.1"),
        ("http://10.1.2.3/x", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::1]:9000/", "::1"),
        ("https://localhost/hooks", "localhost"),
        ("https://db.internal/x", "db.internal"),
        ("https://hooks.example.com/x", None),
        ("https://93.184.215.14/x", None),
        # Every spelling of loopback a resolver accepts (issue 17, hole 4).
        ("http://127.1/x", "127.1"),
        ("http://0x7f000001/x", "0x7f000001"),
        ("http://2130706433/x", "2130706433"),
        ("http://0177.0.0.1/x", "0177.0.0.1"),
        ("http://0x7f.1/x", "0x7f.1"),
        ("http://0/x", "0"),
        ("http://[::ffff:127.0.0.1]/x", "::ffff:127.0.0.1"),
        ("http://[::ffff:7f00:1]/x", "::ffff:7f00:1"),
        ("http://[::127.0.0.1]/x", "::127.0.0.1"),
        ("http://[64:ff9b::a9fe:a9fe]/x", "64:ff9b::a9fe:a9fe"),  # NAT64 of 169.254.169.254
        ("http://[2002:7f00:1::]/x", "2002:7f00:1::"),  # 6to4 of 127.0.0.1
        ("http://[fe80::1]/x", "fe80::1"),
        ("http://224.0.0.1/x", "224.0.0.1"),  # multicast
        ("http://100.64.0.1/x", "100.64.0.1"),  # shared address space (CGNAT)
        ("http://1572395042/x", None),  # 93.184.215.34 as one number: public
        ("http://[::ffff:93.184.215.14]/x", None),
    ],
)
def test_literal_private_hosts(url: str, host: str | None) -> None:
    assert literal_private_host(url) == host


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/a\r\nX-Injected: 1", "must not contain control characters"),
        ("http://hooks.example.com/\x00", "must not contain control characters"),
        ("http:///x", "has no host"),
        ("http:// 127.0.0.1/", "must not contain control characters or spaces"),
        ("http://hooks.example.com:99999/", "the port must be in 1-65535"),
        ("http://hooks.example.com:0/", "the port must be in 1-65535"),
        ("http://hooks.example.com:/", "has an empty port"),
        ("http://[::1/x", "unbalanced or repeated brackets"),
        ("http://[::1]]/x", "unbalanced or repeated brackets"),
        ("http://[::1]x/", "characters after the IPv6 address"),
        ("http://[zz::1]/", "does not appear to be an IPv4 or IPv6 address"),
        ("http://256.1.1.1/", "not a valid IPv4 address"),
        ("http://1.2.3.4.5/", "not a valid IPv4 address"),
        ("http://ho st/", "must not contain control characters or spaces"),
        ("http://bad_host!/", "not a valid host name"),
        ("ftp://hooks.example.com/", "must be an http:// or https:// URL"),
        ("https:hooks.example.com", "must be an http:// or https:// URL"),
    ],
)
def test_urls_are_parsed_strictly(url: str, reason: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert reason in problem


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T000/B000/XXXX",
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        "http://user:pw@hooks.example.com:8080/p?q=1",
        "https://例子.测试/hook",
        "http://[2606:2800:220:1::1]:8443/hook",
        "http://127.0.0.1:8080/local",  # well formed; private-or-not is a separate check
    ],
)
def test_well_formed_urls_pass_the_strict_parse(url: str) -> None:
    assert url_problem(url) is None


def test_destination_problem_names_the_host_unless_private_is_allowed() -> None:
    assert destination_problem("http://0x7f000001:9/x", allow_private=False) == (
        "'0x7f000001' is not a public address; Paceline calls only public addresses"
    )
    assert destination_problem("http://0x7f000001:9/x", allow_private=True) is None
    # Malformed URLs are refused even where private addresses are allowed.
    assert destination_problem("http://a:99999/", allow_private=True) == (
        "the port must be in 1-65535"
    )


def test_a_stored_url_that_does_not_parse_is_shown_without_failing() -> None:
    assert redact_url("http://hooks.example.com:99999/x", "standard") == "[invalid URL]"
    assert (
        redact_url("http://[::1]:8080/x?token=t", "standard")
        == "http://[::1]:8080/x?token=%2A%2A%2A"
    )


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "::1", "0.0.0.0", "127.1", "2130706433", "::ffff:127.0.0.1"],  # noqa: S104
)
async def test_private_addresses_are_refused_after_resolution(host: str) -> None:
    with pytest.raises(PrivateAddressRefused, match="not a public address"):
        await public_address(host, 443)


async def test_a_guarded_client_never_reaches_a_loopback_subscriber() -> None:
    with subscriber() as sub:
        timeout = httpx.Timeout(5.0)
        async with outbound_client(timeout=timeout, allow_private=False) as guarded:
            with pytest.raises(httpx.ConnectError, match="not a public address"):
                await guarded.post(sub.url, content=b"{}")
        assert sub.received == []
        async with outbound_client(timeout=timeout, allow_private=True) as open_client:
            resp = await open_client.post(sub.url, content=b"{}")
        assert resp.status_code == 200
        assert len(sub.received) == 1


def english(s: Stack) -> dict[str, str]:
    """The admin key's headers, the words in English (the refusals' wording is the point)."""
    return {**s.auth(), "Accept-Language": "en"}


async def test_subscriptions_to_private_hosts_are_refused_when_not_allowed(
    tmp_path: Path,
) -> None:
    settings = embedded_settings(tmp_path / "data", outbound_allow_private=False)
    async with running_stack("embedded", settings) as s:
        resp = await s.client.post(
            "/v1/subscriptions",
            json={"name": "metadata", "url": "http://169.254.169.254/latest/meta-data/"},
            headers=english(s),
        )
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert [f["field"] for f in error["fields"]] == ["url"]
        assert "not a public address" in error["fields"][0]["reason"]
        listed = await s.client.get("/v1/subscriptions", headers=english(s))
        assert listed.json() == []
        ok = await s.client.post(
            "/v1/subscriptions",
            json={"name": "ops", "url": "https://hooks.example.com/paceline"},
            headers=english(s),
        )
        assert ok.status_code == 201, ok.text


async def test_subscription_urls_are_parsed_strictly_and_refused_with_422(tmp_path: Path) -> None:
    # Private addresses allowed (the test default): the parse alone refuses these.
    settings = embedded_settings(tmp_path / "data")
    bad = {
        "http://hooks.example.com/a\r\nX-Injected: 1": "must not contain control characters",
        "http:///x": "has no host",
        "http:// 127.0.0.1/x": "must not contain control characters or spaces",
        "http://hooks.example.com:99999/x": "the port must be in 1-65535",
        "http://[::1/x": "unbalanced or repeated brackets",
    }
    async with running_stack("embedded", settings) as s:
        for url, reason in bad.items():
            resp = await s.client.post(
                "/v1/subscriptions", json={"name": "x", "url": url}, headers=english(s)
            )
            assert resp.status_code == 422, (url, resp.text)
            fields = resp.json()["error"]["fields"]
            assert [f["field"] for f in fields] == ["url"], url
            assert reason in fields[0]["reason"], (url, fields)
        ok = await s.client.post(
            "/v1/subscriptions",
            json={"name": "ok", "url": "https://hooks.example.com/paceline"},
            headers=english(s),
        )
        assert ok.status_code == 201, ok.text
        patched = await s.client.patch(
            f"/v1/subscriptions/{ok.json()['id']}",
            json={"url": "http://hooks.example.com:99999/x"},
            headers=english(s),
        )
        assert patched.status_code == 422, patched.text
        assert patched.json()["error"]["fields"][0]["field"] == "url"
        listed = await s.client.get("/v1/subscriptions", headers=english(s))
        assert [sub["url"] for sub in listed.json()] == ["https://hooks.example.com/paceline"]


@pytest.mark.parametrize(
    "host", ["127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "0177.0.0.1", "0"]
)
async def test_every_spelling_of_loopback_is_refused_when_saved(tmp_path: Path, host: str) -> None:
    settings = embedded_settings(tmp_path / "data", outbound_allow_private=False)
    async with running_stack("embedded", settings) as s:
        resp = await s.client.post(
            "/v1/subscriptions",
            json={"name": "loop", "url": f"http://{host}:8080/hook"},
            headers=english(s),
        )
        assert resp.status_code == 422, resp.text
        field = resp.json()["error"]["fields"][0]
        assert field["reason_code"] == "web.url.not_public"
        assert {k: field[k] for k in ("field", "reason")} == {
            "field": "url",
            "reason": f"{host.strip('[]')!r} is not a public address; "
            "Paceline calls only public addresses",
        }
