"""Tenant-chosen URLs: what the api, the ingest service and the dispatcher all know
about them.

Subscriber formats and signing secrets, how a URL is shown without its credentials, how
a URL is checked strictly when it is saved (:func:`url_problem`, :func:`destination_problem`)
and the one HTTP client every call to a tenant-chosen URL goes through
(:func:`outbound_client`): subscriber deliveries, CRM look-ups during a webhook and
during a quarantine replay. Hosts are read the way resolvers read them (``127.1``,
``0x7f000001``, ``2130706433``, ``::ffff:127.0.0.1``), so no spelling of loopback passes.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
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
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # stored before URLs were checked strictly: show nothing of it
        return "[invalid URL]"
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port:
        netloc += f":{port}"
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


# -- addresses: every spelling of a host read as a resolver reads it ------------------------

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
NEVER_PUBLIC_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host: decimal, hex (``0x``) or octal (leading ``0``)."""
    if not _IPV4_PART.match(part):
        return None
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if part.isdigit() and "8" not in part and "9" not in part else None
    return int(part)


def ipv4_of_host(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host names in any form resolvers accept (WHATWG URL's IPv4
    parser, like inet_aton): ``127.1``, ``0x7f.1``, ``0177.0.0.1``, ``2130706433``."""
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    *head, last = values
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(values)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def address_of_host(host: str) -> Address | None:
    """The IP address a URL's host is, or None for a name (IPv6 with or without brackets)."""
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    return ipv4_of_host(host)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, IPv4-compatible, 6to4 or NAT64 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or int(address) >> 32 == 0:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """Whether an address is one Paceline may call: globally routable unicast, not
    loopback, private, link-local, shared (CGNAT), multicast, reserved or unspecified;
    an IPv4 address inside an IPv6 one is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
    )


async def public_address(host: str, port: int) -> str:
    """One public address of ``host``; PrivateAddressRefused if any address is not public."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    private = [a for a in addresses if not is_public(a)]
    if private or not addresses:
        raise PrivateAddressRefused(
            f"refused: {host!r} resolves to {private[0] if private else 'nothing'}, which is "
            "not a public address (set PACELINE_OUTBOUND_ALLOW_PRIVATE=true to allow it)"
        )
    return str(addresses[0])


def literal_private_host(url: str) -> str | None:
    """The host of ``url`` if it is an IP literal (in any spelling) or a local name that is
    never public."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if host == "localhost" or host.endswith(NEVER_PUBLIC_NAMES):
        return host
    address = address_of_host(host)
    if address is None:
        return None
    return None if is_public(address) else host


# -- strict URL checks, when a URL is saved ----------------------------------------------------


def _host_problem(host: str) -> str | None:
    if not host:
        return "has no host"
    if host.startswith("["):
        if not host.endswith("]") or address_of_host(host) is None or "%" in host:
            return f"host {host!r} is not a valid IPv6 address"
        return None
    try:
        ascii_host = host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return f"host {host!r} is not a valid host name"
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        return f"host {host!r} is not a valid host name"
    if _IPV4_PART.match(labels[-1]) and ipv4_of_host(ascii_host) is None:
        return f"host {host!r} is not a valid IPv4 address"
    return None


def url_problem(url: str, *, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why ``url`` is not a well-formed absolute http(s) URL (None if it is): no control
    characters or spaces, a scheme of ``schemes``, a valid host, a port in 1-65535."""
    bad = next((c for c in url if c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        return f"must not contain control characters or spaces (found {bad!r})"
    if url.count("[") != url.count("]") or url.count("[") > 1:
        return "has unbalanced or repeated brackets"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if "out of range" in str(exc):
            return "the port must be in 1-65535"
        return f"is not a valid URL: {exc}"
    if parts.scheme.lower() not in schemes or not url.lower().startswith(f"{parts.scheme}://"):
        return "must be an " + " or ".join(f"{s}://" for s in schemes) + " URL"
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1]
        if parts.netloc.rpartition("@")[2][len(host) :] not in ("", f":{port}"):
            return "has characters after the IPv6 address that are not a port"
    else:
        host = host.rpartition(":")[0] if ":" in host else host
    problem = _host_problem(host)
    if problem is not None:
        return problem
    if port is not None and not 1 <= port <= 65535:
        return "the port must be in 1-65535"
    if parts.netloc.endswith(":"):
        return "has an empty port"
    return None


def destination_problem(url: str, *, allow_private: bool) -> str | None:
    """Why Paceline must not call ``url`` (None if it may): not a well-formed URL, or
    (unless private destinations are allowed) a host that is never public.

    Names are resolved and checked again on every call (:class:`PublicOnlyBackend`).
    """
    problem = url_problem(url)
    if problem is not None or allow_private:
        return problem
    host = literal_private_host(url)
    if host is not None:
        return f"{host!r} is not a public address; Paceline calls only public addresses"
    return None


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
