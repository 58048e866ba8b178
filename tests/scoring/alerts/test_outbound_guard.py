"""Outbound calls to tenant-chosen URLs cannot reach private addresses (SSRF guard)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from paceline.shared.outbound import (
    PrivateAddressRefused,
    literal_private_host,
    outbound_client,
    public_address,
)
from tests.scoring.alerts.subscriber import subscriber
from tests.support import embedded_settings, running_stack


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
    ],
)
def test_literal_private_hosts(url: str, host: str | None) -> None:
    assert literal_private_host(url) == host


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "0.0.0.0"])  # noqa: S104
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


async def test_subscriptions_to_private_hosts_are_refused_when_not_allowed(
    tmp_path: Path,
) -> None:
    settings = embedded_settings(tmp_path / "data", outbound_allow_private=False)
    async with running_stack("embedded", settings) as s:
        resp = await s.client.post(
            "/v1/subscriptions",
            json={"name": "metadata", "url": "http://169.254.169.254/latest/meta-data/"},
            headers=s.auth(),
        )
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert [f["field"] for f in error["fields"]] == ["url"]
        assert "not a public address" in error["fields"][0]["reason"]
        listed = await s.client.get("/v1/subscriptions", headers=s.auth())
        assert listed.json() == []
        ok = await s.client.post(
            "/v1/subscriptions",
            json={"name": "ops", "url": "https://hooks.example.com/paceline"},
            headers=s.auth(),
        )
        assert ok.status_code == 201, ok.text
