"""The HTTP listening sockets, opened before a process does any start-up work.

``paceline serve|ingest|scoring|api`` open them here first and hand them to uvicorn, so a
busy port is found before the migrations and the app start, and no other process can take
the port between this check and uvicorn: the sockets listen from here on (``SO_REUSEADDR``
alone would let a second process bind a port that is bound but not yet listening).
Connections made during start-up wait in the backlog until the app answers them.

The sockets are made the way asyncio's ``create_server`` makes them for a host and port:
every address the host resolves to (``localhost`` may be 127.0.0.1 and ::1),
``SO_REUSEADDR`` on POSIX, IPv6 sockets IPv6-only.
"""

from __future__ import annotations

import errno
import os
import socket
import sys

_IN_USE = frozenset(
    code for code in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", None)) if code is not None
)
BACKLOG = 2048  # uvicorn's default; its server listens again with its own setting

# An address of a host name that this machine cannot use (no IPv6, say) is skipped when
# another address of the name binds.
_UNUSABLE = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT})


class PortInUse(OSError):
    """Another socket already listens on the port."""


def _addresses(host: str, port: int) -> list[tuple[int, tuple[object, ...]]]:
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host  # [::1]
    infos = socket.getaddrinfo(name or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    out: list[tuple[int, tuple[object, ...]]] = []
    for family, _, _, _, address in infos:
        if (family, address) not in out:
            out.append((family, address))
    return out


def bind_listeners(host: str, port: int) -> list[socket.socket]:
    """Listening TCP sockets for ``host`` and ``port``.

    Raises ``PortInUse`` when something holds the port, ``OSError`` (``socket.gaierror``
    for an unknown host) when the address cannot be used at all.
    """
    bound: list[socket.socket] = []
    failure: OSError | None = None
    try:
        for family, address in _addresses(host, port):
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
            except OSError as exc:  # a family this machine lacks
                failure = exc
                continue
            try:
                if os.name == "posix" and sys.platform != "cygwin":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(BACKLOG)
            except OSError as exc:
                sock.close()
                if exc.errno in _IN_USE:
                    raise PortInUse(exc.errno, f"port {port} is in use") from None
                if exc.errno not in _UNUSABLE:
                    raise
                failure = exc
                continue
            bound.append(sock)
        if not bound:
            raise failure or OSError(errno.EADDRNOTAVAIL, f"{host!r} has no usable address")
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    return bound


def nearby_free_port(host: str, port: int) -> int:
    """A port to suggest instead of a busy one: the first free of port+10, +20, +30."""
    candidates = [p for p in (port + 10, port + 20, port + 30) if p <= 65535] or [8010]
    for candidate in candidates:
        try:
            sockets = bind_listeners(host, candidate)
        except OSError:
            continue
        for sock in sockets:
            sock.close()
        return candidate
    return candidates[0]
