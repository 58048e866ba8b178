"""The interactive API docs, served by the process itself: no CDN, no inline script.

``/docs`` is Swagger UI and ``/redoc`` is ReDoc, both reading ``/openapi.json``. Their
scripts and styles are the builds the ``fastapi-offline`` package ships (pinned in
pyproject.toml; only its files are used, not its app factory), served under
``/docs/assets/``. FastAPI's own pages load them from a CDN and start Swagger UI with an
inline script; here the start-up is a small script file of our own, so the pages work
without a network and under a Content-Security-Policy without ``'unsafe-inline'`` for
scripts (``DOCS_POLICIES`` in shared/web/security.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"

# Swagger UI's start-up, as FastAPI's page does it inline; the document's URL comes from
# the page (data-openapi-url), so this file is the same for every process and root path.
SWAGGER_INIT_JS = """\
"use strict";
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
"""

# The stylesheet of our own pages (a <style> element would need 'unsafe-inline').
PAGE_CSS = "body { margin: 0; padding: 0; }\n"

_VENDOR = {  # file name -> media type, from the fastapi-offline package
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the docs pages, read once."""

    body: bytes
    media_type: str
    etag: str


def _asset(body: bytes, media_type: str) -> Asset:
    return Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@cache
def assets() -> dict[str, Asset]:
    """Every file the docs pages load, by name under ``/docs/assets/``."""
    vendor = files("fastapi_offline") / "static"
    out = {name: _asset((vendor / name).read_bytes(), kind) for name, kind in _VENDOR.items()}
    out["swagger-init.js"] = _asset(SWAGGER_INIT_JS.encode(), "text/javascript; charset=utf-8")
    out["docs.css"] = _asset(PAGE_CSS.encode(), "text/css; charset=utf-8")
    return out


def _root(request: Request) -> str:
    """The app's mount point behind a proxy (ASGI ``root_path``), safe in an attribute."""
    return escape(str(request.scope.get("root_path", "")), quote=True)


def _page(*, root: str, title: str, head: str = "", body: str) -> HTMLResponse:
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="icon" type="image/png" href="{root}{ASSETS_URL}/favicon.png">
<link rel="stylesheet" href="{root}{ASSETS_URL}/docs.css">{head}
</head>
<body>
{body}
</body>
</html>
"""
    return HTMLResponse(html)


def docs_router(*, title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    """``/docs``, ``/redoc`` and their files, for an app called ``title``."""
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_URL)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI over the OpenAPI document."""
        root = _root(request)
        return _page(
            root=root,
            title=f"{title} - Swagger UI",
            head=f'\n<link rel="stylesheet" href="{root}{ASSETS_URL}/swagger-ui.css">',
            body=f'<div id="swagger-ui" data-openapi-url="{root}{openapi_url}"></div>\n'
            f'<script src="{root}{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{root}{ASSETS_URL}/swagger-init.js"></script>',
        )

    @router.get(REDOC_URL)
    async def redoc(request: Request) -> HTMLResponse:
        """ReDoc over the OpenAPI document."""
        root = _root(request)
        return _page(
            root=root,
            title=f"{title} - ReDoc",
            body=f'<redoc spec-url="{root}{openapi_url}"></redoc>\n'
            f'<script src="{root}{ASSETS_URL}/redoc.standalone.js"></script>',
        )

    @router.get(ASSETS_URL + "/{name}")
    async def asset(request: Request, name: str) -> Response:
        """A script, stylesheet or icon of the docs pages."""
        found = assets().get(name)
        if found is None:
            raise NotFound(msg("web.docs.not_found", name=repr(name)))
        headers = {"ETag": found.etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == found.etag:
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.media_type, headers=headers)

    return router
