"""A real alert subscriber for the fault scenario: HTTP on 127.0.0.1, outages on demand.

It runs in a thread of the bench process (``http.server``), checks the Standard Webhooks
signature of every request with the ``standardwebhooks`` library and the subscription's
``whsec_`` secret, and records each request (``webhook-id``, the alert event it carries,
whether the signature held, what it answered). While it is *down* it answers 503 after a
short delay (an overloaded endpoint, so that attempts are in flight when the dispatcher is
killed); a request whose signature does not verify is answered 401 (never delivered). A
request cut off by the sender's death (a body shorter than its Content-Length) is
recorded as such, not as a bad signature.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True, slots=True)
class Receipt:
    """One request as the subscriber saw it."""

    message_id: str  # webhook-id
    event_id: int | None  # data.event.id of the alert payload
    verified: bool
    status: int  # what the subscriber answered
    complete: bool = True  # False: the body ended before its Content-Length (sender died)
    problem: str | None = None  # why the signature did not verify

    @property
    def accepted(self) -> bool:
        """Answered 2xx with a valid signature: delivered."""
        return self.complete and self.verified and 200 <= self.status < 300


def _event_id(body: bytes) -> int | None:
    try:
        data: Any = orjson.loads(body)
        value = data["data"]["event"]["id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None


class Subscriber:
    """The server, its outage switch and what it received; a context manager."""

    def __init__(self, *, outage_delay_s: float = 0.25) -> None:
        self.outage_delay_s = outage_delay_s
        self.secret: str | None = None  # set once the subscription is created
        self._down = threading.Event()
        self._lock = threading.Lock()
        self._receipts: list[Receipt] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="faults-subscriber", daemon=True
        )

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    @property
    def down(self) -> bool:
        """Whether it is failing now."""
        return self._down.is_set()

    def go_down(self) -> None:
        """Answer 503 from now on."""
        self._down.set()

    def come_back(self) -> None:
        """Answer 200 again."""
        self._down.clear()

    def receipts(self) -> list[Receipt]:
        """Every request so far."""
        with self._lock:
            return list(self._receipts)

    def __enter__(self) -> Subscriber:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                declared = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(declared)
                complete = len(body) == declared
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified, problem = False, None
                if sub.secret is None:
                    problem = "no secret yet"
                elif complete:
                    try:
                        Webhook(sub.secret).verify(body, headers)
                        verified = True
                    except WebhookVerificationError as exc:
                        problem = f"{exc} (webhook-id {headers.get('webhook-id')})"
                if not complete:
                    status = 400
                elif sub.down:
                    time.sleep(sub.outage_delay_s)
                    status = 503
                else:
                    status = 200 if verified else 401
                receipt = Receipt(
                    headers.get("webhook-id", ""),
                    _event_id(body),
                    verified,
                    status,
                    complete,
                    problem,
                )
                with sub._lock:
                    sub._receipts.append(receipt)
                # The sender may be dead by now (SIGKILLed mid-attempt): nobody to answer.
                with contextlib.suppress(OSError):
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"ok": true}' if status == 200 else b'{"ok": false}')

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        return Handler
