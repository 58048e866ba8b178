"""What the api and the dispatcher both know about subscriber endpoints: formats,
signing secrets, and how a URL is shown without its credentials."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import socket
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpcore
import httpx
from httpcore._backends.base import SOCKET_OPTION

FORMATS = ("standard", "slack", "wecom", "dingtalk", "feishu")
# Formats whose signing secret the subscriber's bot issues (we store it, never make it).
VENDOR_SECRET_FORMATS = ("dingtalk", "feishu")


def new_secret() -> str:
    """A new Standard Webhooks signing secret (``whsec_`` + base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def redact_url(url: str, fmt: str) -> str:
    """The URL without credentials: query values and a bot's token path masked."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path
    if fmt in ("slack", "feishu") and path.strip("/"):
        segs = path.split("/")
        keep = 3 if fmt == "slack" else len(segs) - 1
        segs = [*segs[:keep], *("***" for _ in segs[keep:])]
        path = "/".join(segs)
    query = urlencode([(k, "***") for k, _v in parse_qsl(parts.query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, path, query, ""))


# -- outbound HTTP: timeouts always, and no requests to private addresses -------------------


class PrivateAddressRefused(httpcore.ConnectError):
    """The host resolves to an address that is not public (SSRF guard)."""


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses: resolves the host itself, checks every address,
    and connects to a checked one (so a DNS answer cannot change between check and use).

    Tenants choose the URLs Paceline calls (subscriber endpoints, a CRM API base URL).
    Without this guard a tenant admin could make the server call loopback services, the
    cloud metadata endpoint (169.254.169.254) or anything on the private network. TLS
    still verifies the certificate against the host name of the URL.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109  # the interface httpcore calls
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await public_address(host, port)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109  # the interface httpcore calls
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PrivateAddressRefused("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def public_address(host: str, port: int) -> str:
    """One public address of ``host``; PrivateAddressRefused if any address is not public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    private = [a for a in addresses if not a.is_global]
    if private or not addresses:
        raise PrivateAddressRefused(
            f"refused: {host!r} resolves to {private[0] if private else 'nothing'}, which is "
            "not a public address (set PACELINE_OUTBOUND_ALLOW_PRIVATE=true to allow it)"
        )
    return str(addresses[0])


def literal_private_host(url: str) -> str | None:
    """The host of ``url`` if it is an IP literal or a local name that is never public."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_global else host


def outbound_client(*, timeout: httpx.Timeout, allow_private: bool) -> httpx.AsyncClient:
    """An HTTP client for tenant-chosen URLs: a timeout on everything, no redirects, no
    proxy settings from the environment, and (unless allowed) public addresses only."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    if not allow_private:
        pool = transport._pool  # httpx has no public hook for the backend
        assert isinstance(pool, httpcore.AsyncConnectionPool)
        pool._network_backend = PublicOnlyBackend(pool._network_backend)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, trust_env=False
    )
