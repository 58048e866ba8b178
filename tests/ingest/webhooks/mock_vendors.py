"""Local mock vendor APIs: real HTTP servers on 127.0.0.1 (free ports) answering record
reads the way each vendor documents them, including 401, not found and rate limits.

- HubSpot ``GET /crm/v3/objects/{objectTypeId}/{id}`` (Bearer): ``{"id", "properties",
  "createdAt", "updatedAt", "archived"}``; errors ``{"status": "error", "message",
  "category"}``; 429 ``{"errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}``
  (https://developers.hubspot.com/docs/guides/crm/using-object-apis,
  https://developers.hubspot.com/docs/api/usage-details).
- Zoho ``GET /crm/v8/{module}/{id}`` (``Zoho-oauthtoken``): ``{"data": [record]}``; a
  missing record 204; errors ``{"code", "details", "message", "status": "error"}``
  (``INVALID_TOKEN`` 401, ``TOO_MANY_REQUESTS`` 429)
  (https://www.zoho.com/crm/developer/docs/api/v8/get-records.html).
- Salesforce ``GET /services/data/v62.0/sobjects/{type}/{id}`` (Bearer): the sObject with
  ``attributes``; errors ``[{"message", "errorCode"}]`` (``INVALID_SESSION_ID`` 401,
  ``NOT_FOUND`` 404, ``REQUEST_LIMIT_EXCEEDED`` 403)
  (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
- Pipedrive ``GET /api/v2/deals/{id}`` (``x-api-token``): ``{"success": true, "data"}``;
  errors ``{"success": false, "error", "errorCode"}``; 429 with ``x-ratelimit-*`` headers
  (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting).

Tests set the CRM's records (``api.records[(object, id)] = fields``) as the CRM would have
them, queue rate limits (``api.limit_next``) and read what was asked (``api.requests``).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.infra import free_port

TOKEN = "mock-vendor-token-5b7e"

_ROUTES = {
    "hubspot": re.compile(r"^/crm/v3/objects/(?P<obj>[^/]+)/(?P<id>[^/]+)$"),
    "zoho": re.compile(r"^/crm/v8/(?P<obj>[^/]+)/(?P<id>[^/]+)$"),
    "salesforce": re.compile(r"^/services/data/v62\.0/sobjects/(?P<obj>[^/]+)/(?P<id>[^/]+)$"),
    "pipedrive": re.compile(r"^/api/v2/(?P<obj>deals|activities)/(?P<id>[^/]+)$"),
}
_PD_ENTITY = {"deals": "deal", "activities": "activity"}


@dataclass
class MockVendor:
    """One vendor's records API."""

    vendor: str
    records: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    updated: dict[tuple[str, str], str] = field(default_factory=dict)  # HubSpot updatedAt
    requests: list[dict[str, Any]] = field(default_factory=list)
    limit_next: int = 0  # answer this many requests with the vendor's rate limit
    retry_after: str | None = "1"
    token: str = TOKEN
    # OAuth grants (Zoho refresh token, Salesforce client credentials): the form that
    # gets a new access token; each grant issues a new token and the old one stops working.
    grant: dict[str, str] | None = None
    issued: int = 0
    port: int = 0

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://127.0.0.1:{self.port}"

    def fetched(self) -> int:
        """Requests answered 200."""
        return sum(r["status"] == 200 for r in self.requests)

    # -- answers ---------------------------------------------------------------------------

    def answer(self, path: str, headers: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, JSON body or None, headers) for a GET."""
        match = _ROUTES[self.vendor].match(path)
        if match is None:
            return self._not_found("path")
        if not self._authorised(headers):
            return self._unauthorised()
        if self.limit_next > 0:
            self.limit_next -= 1
            return self._limited()
        obj, rid = match["obj"], match["id"]
        if self.vendor == "pipedrive":
            obj = _PD_ENTITY[obj]
        record = self.records.get((obj, rid))
        if record is None:
            return self._not_found(rid)
        return 200, self._record(obj, rid, record), self._ok_headers()

    def grant_token(self, path: str, form: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """(status, body, headers) of a token request: Zoho ``/oauth/v2/token`` answers a
        bad grant with 200 and ``{"error": "invalid_code"}``; Salesforce
        ``/services/oauth2/token`` with 400 ``invalid_client``."""
        expected = "/oauth/v2/token" if self.vendor == "zoho" else "/services/oauth2/token"
        if path != expected:
            return self._not_found("path")
        if self.grant is None or form != self.grant:
            if self.vendor == "zoho":
                return 200, {"error": "invalid_code"}, {}
            body = {"error": "invalid_client", "error_description": "invalid client credentials"}
            return 400, body, {}
        self.issued += 1
        self.token = f"{TOKEN}-{self.issued}"
        if self.vendor == "zoho":
            body = {
                "access_token": self.token,
                "api_domain": self.base_url,
                "token_type": "Bearer",
                "expires_in": 3600,
            }
        else:
            body = {
                "access_token": self.token,
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/00D5e000000KQ2eEAG/0055e000001AbcdAAA",
                "token_type": "Bearer",
                "issued_at": "1796115600000",
                "signature": "c2lnbmF0dXJl",
            }
        return 200, body, {}

    def _authorised(self, headers: Any) -> bool:
        if self.vendor == "pipedrive":
            return bool(headers.get("x-api-token") == self.token)
        scheme = "Zoho-oauthtoken" if self.vendor == "zoho" else "Bearer"
        return bool(headers.get("Authorization") == f"{scheme} {self.token}")

    def _record(self, obj: str, rid: str, record: dict[str, Any]) -> Any:
        if self.vendor == "hubspot":
            return {
                "id": rid,
                "properties": {"hs_object_id": rid, **record},
                "createdAt": record.get("createdate"),
                "updatedAt": self.updated.get((obj, rid), record.get("hs_lastmodifieddate")),
                "archived": False,
            }
        if self.vendor == "zoho":
            return {"data": [{"id": rid, **record}]}
        if self.vendor == "salesforce":
            url = f"/services/data/v62.0/sobjects/{obj}/{rid}"
            return {"attributes": {"type": obj, "url": url}, "Id": rid, **record}
        return {"success": True, "data": {"id": int(rid), **record}}

    def _ok_headers(self) -> dict[str, str]:
        if self.vendor == "pipedrive":
            return {
                "x-ratelimit-limit": "40",
                "x-ratelimit-remaining": "39",
                "x-ratelimit-reset": "2",
            }
        return {}

    def _unauthorised(self) -> tuple[int, Any, dict[str, str]]:
        if self.vendor == "hubspot":
            body: Any = {
                "status": "error",
                "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION",
            }
        elif self.vendor == "zoho":
            body = {
                "code": "INVALID_TOKEN",
                "details": {},
                "message": "invalid oauth token",
                "status": "error",
            }
        elif self.vendor == "salesforce":
            body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
        else:
            body = {"success": False, "error": "unauthorized access", "errorCode": 401}
        return 401, body, {}

    def _not_found(self, what: str) -> tuple[int, Any, dict[str, str]]:
        if self.vendor == "zoho":
            return 204, None, {}
        if self.vendor == "hubspot":
            body: Any = {
                "status": "error",
                "message": f"Object not found. objectId are usually numeric. ({what})",
                "category": "OBJECT_NOT_FOUND",
            }
        elif self.vendor == "salesforce":
            body = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
        else:
            body = {"success": False, "error": "Deal not found", "errorCode": 404}
        return 404, body, {}

    def _limited(self) -> tuple[int, Any, dict[str, str]]:
        headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
        if self.vendor == "hubspot":
            body: Any = {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "TEN_SECONDLY_ROLLING",
            }
            return 429, body, headers
        if self.vendor == "zoho":
            body = {
                "code": "TOO_MANY_REQUESTS",
                "details": {},
                "message": "The number of requests exceeds the limit",
                "status": "error",
            }
            return 429, body, headers
        if self.vendor == "salesforce":
            body = [
                {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
            ]
            return 403, body, headers
        body = {"success": False, "error": "Request over limit", "errorCode": 429}
        limits = {"x-ratelimit-limit": "40", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}
        return 429, body, {**limits, **headers}


@contextmanager
def mock_vendor(vendor: str) -> Iterator[MockVendor]:
    """Start a vendor's mock API on 127.0.0.1; always stopped afterwards."""
    api = MockVendor(vendor)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's method name
            parts = urlsplit(self.path)
            with lock:
                status, body, headers = api.answer(parts.path, self.headers)
                api.requests.append(
                    {
                        "path": parts.path,
                        "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                        "status": status,
                    }
                )
            self._send(status, body, headers)

        def do_POST(self) -> None:  # http.server's method name
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            parts = urlsplit(self.path)
            with lock:
                status, body, headers = api.grant_token(parts.path, form)
                api.requests.append({"path": parts.path, "query": {}, "status": status})
            self._send(status, body, headers)

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    api.port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", api.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
