"""The API docs pages work offline and under the Content-Security-Policy (shared/web/docs.py).

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) may name only this process's files, run no
inline script, and every file they name must answer with its type. The OpenAPI document
they render must resolve: a dangling ``$ref`` stops ReDoc.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from paceline.cli.stack import build_app
from tests.support import embedded_settings

PAGES = ["/docs", "/redoc"]
TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class PageParts(HTMLParser):
    """The URLs a page loads, and anything inline that a strict policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []  # scripts, stylesheets, icons, images
        self.documents: list[str] = []  # what the viewers fetch: the OpenAPI document
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name in values:
            if name.startswith("on") or name == "style":
                self.inline.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            self._in_script = True
            if not values.get("src"):
                self.inline.append("<script> without src")
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(values[name])
        for name in ("data-openapi-url", "spec-url"):
            if values.get(name):
                self.documents.append(values[name])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"script text {data.strip()[:40]!r}")


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as directive -> sources."""
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The whole embedded app; the docs need no running services."""
    app = build_app(embedded_settings(tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://paceline.test") as c:
        yield c


@pytest.mark.parametrize("page", PAGES)
async def test_the_docs_page_loads_only_local_files(client: httpx.AsyncClient, page: str) -> None:
    resp = await client.get(page)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    parts = PageParts()
    parts.feed(resp.text)
    assert parts.inline == []
    assert any(url.endswith(".js") for url in parts.urls)
    for url in parts.urls:
        split = urlsplit(url)
        assert (split.scheme, split.netloc) == ("", ""), f"{page} loads {url} from elsewhere"
        assert url.startswith("/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        suffix = url[url.rfind(".") :]
        assert asset.headers["content-type"].startswith(TYPES[suffix]), url
        assert len(asset.content) > 10, url
    assert parts.documents == ["/openapi.json"]
    document = await client.get(parts.documents[0])
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")


@pytest.mark.parametrize("page", PAGES)
async def test_the_docs_policy_admits_no_inline_or_foreign_script(
    client: httpx.AsyncClient, page: str
) -> None:
    policy = directives((await client.get(page)).headers["content-security-policy"])
    scripts = policy.get("script-src", policy["default-src"])
    assert scripts == ["'self'"]
    for sources in policy.values():
        assert not any(s.startswith(("http:", "https:")) or s == "*" for s in sources), policy
    assert policy["frame-ancestors"] == ["'none'"]


async def test_the_swagger_page_is_started_by_a_file_without_a_validator_call(
    client: httpx.AsyncClient,
) -> None:
    init = await client.get("/docs/assets/swagger-init.js")
    assert init.status_code == 200
    assert "SwaggerUIBundle(" in init.text
    assert "validatorUrl: null" in init.text  # Swagger UI would call validator.swagger.io
    cached = await client.get(
        "/docs/assets/swagger-init.js", headers={"If-None-Match": init.headers["etag"]}
    )
    assert cached.status_code == 304
    # Only the listed files: nothing else of the package (or beside it) can be named.
    for name in ("core.py", "__init__.py", "..%2Fcore.py", "nothing.js"):
        assert (await client.get(f"/docs/assets/{name}")).status_code == 404, name


async def test_oauth2_redirect_page_is_gone(client: httpx.AsyncClient) -> None:
    # FastAPI's helper page runs inline script; Paceline's keys are bearer tokens, no OAuth2.
    assert (await client.get("/docs/oauth2-redirect")).status_code == 404


def _resolve(document: dict[str, Any], pointer: str) -> Any:
    node: Any = document
    for token in pointer.removeprefix("#/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[token]
    return node


async def test_every_reference_in_the_openapi_document_resolves(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                refs.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    dangling = []
    for ref in sorted(set(refs)):
        assert ref.startswith("#/"), ref
        try:
            _resolve(document, ref)
        except (KeyError, IndexError, TypeError):
            dangling.append(ref)
    assert dangling == []
