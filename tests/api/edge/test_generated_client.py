"""The OpenAPI document is usable (issue 18): a typed Python client generated from it by
openapi-python-client (pinned in the dev dependencies) talks to the real API server.

The client is generated into a temporary directory and imported; the app runs under
uvicorn on a free loopback port; the smoke flow (org, targets across pages, events,
progress, facts) goes through the generated functions and models, and every answer
equals what plain HTTP says.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from paceline.cli.stack import build_app
from paceline.shared.settings import Settings
from tests.api.edge.test_openapi_contract import media_examples
from tests.conftest import Clocked
from tests.infra import free_port

pytestmark = pytest.mark.dates

# "Now" for the app: Thursday 3 December 2026, 10:00 in Beijing (November has ended).
TODAY = datetime.fromisoformat("2026-12-03T10:00:00+08:00")
PACKAGE = "paceline_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client generated from the app's document, imported."""
    root = tmp_path_factory.mktemp("client")
    document = root / "openapi.json"
    document.write_text(json.dumps(build_app(Settings(environment="test")).openapi()))
    env = os.environ | {"PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            *(str(GENERATOR), "generate", "--path", str(document), "--meta", "none"),
            *("--output-path", str(root / PACKAGE)),
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    # Nothing of the document was dropped, except bodies and answers that are not JSON
    # (CSV, NDJSON, the OData feed's XML $metadata).
    for line in output.splitlines():
        if line.startswith(("WARNING", "Unable", "Failure")):
            context = output[output.index(line) :][:400]
            assert re.search(r"Unsupported content[ _]type", context), context
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
async def served(clocked: Clocked) -> AsyncIterator[tuple[Clocked, str]]:
    """The clocked stack's app served by uvicorn on 127.0.0.1 (its lifespan already runs)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            clocked[0].app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            assert not task.done(), "uvicorn stopped"
            await asyncio.sleep(0.05)
        assert server.started
        yield clocked, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def _module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


async def test_a_generated_client_drives_the_real_server(
    client_package: ModuleType, served: tuple[Clocked, str]
) -> None:
    (s, _clock), base = served
    models = _module(client_package, "models")
    org_api = _module(client_package, "api.org.org_put_org")
    create_api = _module(client_package, "api.targets.targets_create_target")
    list_api = _module(client_package, "api.targets.targets_list_targets")
    events_api = _module(client_package, "api.events.events_post_events")
    progress_api = _module(client_package, "api.progress.progress_get_progress")
    facts_api = _module(client_package, "api.facts.facts_get_facts")
    key = s.admin_key
    plain = httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"})
    client = client_package.AuthenticatedClient(base_url=base, token=key)
    async with plain, client:
        # The org chart: typed models in, typed models out.
        org = models.OrgIn.from_dict(
            {
                "teams": [{"id": "north", "name": "华北区"}],
                "reps": [
                    {"id": f"r{i}", "name": f"Rep {i}", "team_id": "north"} for i in range(1, 4)
                ],
            }
        )
        answer = await org_api.asyncio_detailed(client=client, body=org)
        assert answer.status_code == 200, answer.content
        assert sorted(r.id for r in answer.parsed.reps) == ["r1", "r2", "r3"]

        # Five targets; pages of two through the client, by X-Next-Cursor.
        created = []
        for kpi in ("revenue", "visits"):
            for scope in (
                ("company", "rep:r1", "rep:r2") if kpi == "revenue" else ("rep:r1", "rep:r3")
            ):
                body = models.TargetIn(kpi=kpi, scope=scope, period="2026-11", target="30000")
                out = await create_api.asyncio(client=client, body=body)
                assert isinstance(out, models.TargetOut), out
                created.append(out.id)
        seen: list[int] = []
        cursor: Any = client_package.types.UNSET
        pages = 0
        while True:
            page = await list_api.asyncio_detailed(client=client, limit=2, cursor=cursor)
            assert page.status_code == 200
            pages += 1
            seen += [t.id for t in page.parsed]
            if "x-next-cursor" not in page.headers:
                break
            cursor = page.headers["x-next-cursor"]
        assert pages == 3
        assert seen == sorted(created)
        everything = (await plain.get("/v1/targets", params={"limit": "100"})).json()
        assert [t["id"] for t in everything] == seen
        typed = (await list_api.asyncio(client=client, limit=100)) or []
        assert [t.to_dict() for t in typed] == everything

        # Events through the client (a batch: the body's array form), then progress and
        # facts, typed and plain the same.
        events = [
            models.CanonicalEvent.from_dict(
                {
                    "event_id": f"d-{i}",
                    "type": "deal",
                    "occurred_at": f"2026-11-{10 + i}T10:00:00+08:00",
                    "rep_id": "r1",
                    "stage": "won",
                    "amount": f"{i}000.00",
                    "currency": "CNY",
                }
            )
            for i in range(1, 5)
        ]
        sent = await events_api.asyncio_detailed(client=client, body=events)
        assert sent.status_code == 202, sent.content
        assert sent.parsed.accepted == 4
        await s.wait_scored()

        params = {"kpi": "revenue", "scope": "rep:r1", "period": "2026-11"}
        progress = await progress_api.asyncio(client=client, **params)
        expected = (await plain.get("/v1/progress", params=params)).json()
        assert isinstance(progress, models.ProgressOut), progress
        typed_progress = progress.to_dict()
        # The same instant (the client writes +00:00 where the server wrote Z).
        assert datetime.fromisoformat(typed_progress.pop("as_of")) == datetime.fromisoformat(
            expected.pop("as_of")
        )
        assert typed_progress == expected
        assert Decimal(expected["actual"]) == 10_000  # 1,000 + 2,000 + 3,000 + 4,000
        assert Decimal(expected["target"]) == 30_000

        # `from` is `from_` in Python.
        facts = await facts_api.asyncio_detailed(
            client=client,
            kpi="revenue",
            from_=date(2026, 11, 1),
            to=date(2026, 11, 30),
            group_by="rep",
        )
        assert facts.status_code == 200
        plain_facts = (
            await plain.get(
                "/v1/facts",
                params={
                    "kpi": "revenue",
                    "from": "2026-11-01",
                    "to": "2026-11-30",
                    "group_by": "rep",
                },
            )
        ).json()
        assert json.loads(facts.content) == plain_facts
        assert facts.parsed.to_dict() == plain_facts
        assert [(r["rep_id"], Decimal(r["value"])) for r in plain_facts["rows"]] == [("r1", 10_000)]


# The document's request examples, sent in this order with these path parameters, and the
# status each must get: the examples are not only valid JSON, the app takes them.
EXAMPLE_FLOW: list[tuple[str, dict[str, str], int]] = [
    ("org.putOrg", {}, 200),
    ("org.putTeam", {"team_id": "north-bj"}, 200),
    ("org.putRep", {"rep_id": "r-001"}, 200),
    ("users.createUser", {}, 201),
    ("settings.putSettings", {}, 200),
    ("kpis.checkFormula", {}, 200),
    ("kpis.createKpi", {}, 201),
    ("kpis.updateKpi", {"key": "big_deal_count"}, 200),
    ("targets.createTarget", {}, 201),
    ("targets.previewRevision", {"target_id": "1"}, 200),
    ("targets.reviseTarget", {"target_id": "1"}, 200),
    ("targets.acknowledgeTarget", {"target_id": "1"}, 200),
    ("planning.checkPlan", {}, 200),
    ("planning.decompose", {}, 200),
    ("fx.putRates", {}, 200),
    ("calendar.putCalendarDay", {"day": "2026-12-31"}, 200),
    ("events.postEvents", {}, 202),
    ("imports.postImport", {}, 201),
    ("closes.postClose", {}, 201),
    ("closes.postReopen", {"period": "2026-11"}, 200),
    ("incentives.postPlan", {}, 201),
    ("incentives.putPlan", {"key": "am-2026"}, 200),
    ("incentives.postAssignment", {}, 201),
    ("incentives.postWhatIf", {}, 200),
    ("roleTemplates.putTemplate", {"key": "custom_am"}, 200),
    ("keys.createKey", {}, 201),
    ("alerts.putAlertSettings", {}, 200),
    ("connectors.putConnector", {"source": "hubspot"}, 201),
    ("connectors.putMapping", {"source": "hubspot"}, 200),
    ("connectors.rotateConnector", {"source": "hubspot"}, 200),
    ("subscriptions.createSubscription", {}, 201),
    ("subscriptions.updateSubscription", {"subscription_id": "1"}, 200),
]


async def test_the_documents_request_examples_are_accepted(clocked: Clocked) -> None:
    s, _clock = clocked
    document = s.app.openapi()
    by_id = {
        op["operationId"]: (method, path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict)
    }
    for op_id, path_params, status in EXAMPLE_FLOW:
        method, path, op = by_id[op_id]
        media = op["requestBody"]["content"]["application/json"]
        [example, *_] = media_examples(document, media)
        resp = await s.client.request(
            method, path.format(**path_params), json=example, headers=s.auth()
        )
        assert resp.status_code == status, (op_id, resp.text)
        if op_id == "kpis.checkFormula":
            assert resp.json()["valid"] is True, resp.text
        if op_id == "events.postEvents":
            assert resp.json()["accepted"] == 1, resp.text
        if op_id == "targets.createTarget":
            assert (resp.json()["id"], resp.json()["scope"]) == (1, "rep:r-001")

    # Then every list of the document that needs no path parameter, walked by one item a
    # page (the flow above left several items in most): each page links the next by
    # X-Next-Cursor and Link, and no item comes twice.
    walked = await _walk_every_list(s, document)
    assert {"/v1/targets", "/v1/audit", "/v1/keys", "/v1/alerts/digests"} <= set(walked)
    assert walked["/v1/audit"] >= 3
    assert walked["/v1/keys"] == 2  # the test's key and the example's


# Values for the required query parameters of the lists walked above.
LIST_PARAMS = {
    "kpi": "revenue",
    "from": "2026-11-01",
    "to": "2026-11-30",
    "period": "2026-11",
    "team": "north",
}


async def _walk_every_list(s: Any, document: dict[str, Any]) -> dict[str, int]:
    """Pages seen per list (limit=1, at most 6 pages each)."""
    pages_seen: dict[str, int] = {}
    for path, item in document["paths"].items():
        op = item.get("get")
        if op is None or "{" in path or op.get("x-required-scope") == "platform":
            continue  # the test's key is the tenant's admin key
        params = {p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"}
        if "cursor" not in params:
            continue
        query = {n: LIST_PARAMS[n] for n, p in params.items() if p.get("required")}
        query["limit"] = "1"
        seen: list[str] = []
        url: str | None = None
        pages = 0
        while pages < 6:
            resp = await s.client.get(url or path, params=None if url else query, headers=s.auth())
            assert resp.status_code == 200, (path, resp.text)
            pages += 1
            body = resp.json()
            rows = (
                body
                if isinstance(body, list)
                else next((body[k] for k in ("items", "rows", "records") if k in body), [])
            )
            seen += [json.dumps(r, sort_keys=True) for r in rows]
            cursor = resp.headers.get("X-Next-Cursor")
            link = resp.headers.get("Link")
            if cursor is None:
                assert link is None, (path, link)
                assert not isinstance(body, dict) or body.get("next_cursor") is None, path
                break
            assert link is not None, path
            assert link.endswith('>; rel="next"'), link
            url = link[1 : link.index(">")]
            assert f"cursor={cursor}" in url or f"cursor={quote(cursor)}" in url, (path, url)
            assert url.startswith(path + "?"), (path, url)
            if isinstance(body, dict):
                assert str(body["next_cursor"]) == cursor, path
        assert len(seen) == len(set(seen)), (path, seen)
        pages_seen[path] = pages
    return pages_seen
