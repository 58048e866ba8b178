"""A real HTTP subscriber on 127.0.0.1 for delivery tests (a thread, not a mock).

It verifies every standard-format request with the ``standardwebhooks`` library, records
what it received, and answers with scripted statuses (to fail, then recover).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.infra import free_port


@dataclass
class Received:
    """One request as the subscriber saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool | None  # None: not verified (no secret known)
    status: int

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Subscriber:
    """The server's state: scripted answers and what was received."""

    port: int
    secret: str | None = None
    script: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    default_status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return f"http://127.0.0.1:{self.port}/hooks"

    def answer(
        self, *statuses: int, headers: dict[str, str] | None = None, body: bytes = b'{"ok": true}'
    ) -> None:
        """Answer the next requests with these statuses, then with the default."""
        with self.lock:
            self.script.extend((s, headers or {}, body) for s in statuses)

    def delivered(self) -> list[Received]:
        """Requests answered with 2xx."""
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def all(self) -> list[Received]:
        """Every request."""
        with self.lock:
            return list(self.received)


def _handler(sub: Subscriber) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified: bool | None = None
            if sub.secret is not None:
                try:
                    Webhook(sub.secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    verified = False
            with sub.lock:
                status, extra, reply = (
                    sub.script.popleft()
                    if sub.script
                    else (sub.default_status, {}, b'{"ok": true}')
                )
                if verified is False:
                    status = 401
                sub.received.append(Received(self.path, headers, body, verified, status))
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler


@contextmanager
def subscriber(secret: str | None = None) -> Iterator[Subscriber]:
    """A subscriber server on a free 127.0.0.1 port, stopped afterwards."""
    sub = Subscriber(port=free_port(), secret=secret)
    server = ThreadingHTTPServer(("127.0.0.1", sub.port), _handler(sub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
