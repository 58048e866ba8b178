"""No English in what a zh-CN tenant's people read (issue 15, item 1).

The demo company (locale zh-CN) is seeded on a pinned clock and its alert engine run,
then every GET operation of the OpenAPI document is called with an admin key and no
``Accept-Language`` (the tenant's locale decides), every operation with a path parameter
once more with an id that does not exist, every operation with query parameters with a
wrong value of each, and every operation that takes a JSON body with an empty object.
Every human-readable field of every answer — ``message``, ``title``, ``reason``,
``summary``, ``fix``, steps, findings, texts; the zh-CN side of ``{"zh-CN", "en"}`` pairs —
must hold no English word. Allowed, explicitly: the names in the org chart (the demo's
team names are bilingual, "华北大区 North"), identifiers (anything with a digit,
``_``, ``:``, ``/`` or ``.`` inside, quoted input echoed back), and the short list of
terms a Chinese sales team writes in Latin letters (KPI, CRM, API, URL, CSV...).

The same walk with ``Accept-Language: en`` must find English words in those fields (the
control: the check can fail, and the header overrides the tenant's locale).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from paceline.cli.demo import seed_demo
from paceline.scoring.alerting import Alerting
from paceline.shared.clock import FixedClock
from tests.api.edge.test_route_rules import Operation, is_public, operations, schema_value
from tests.support import Stack, embedded_settings, running_stack

TZ = ZoneInfo("Asia/Shanghai")
REFERENCE = datetime(2026, 12, 1, 8, 30, tzinfo=TZ)

# Fields people read. A dict under one of these is walked too (findings, steps).
HUMAN = frozenset(
    {
        "message",
        "title",
        "reason",
        "summary",
        "fix",
        "fixes",
        "hint",
        "step",
        "steps",
        "text",
        "explanation",
        "advice",
        "headline",
        "why",
        "note_text",
        "label",
        "scope_name",
    }
)
# Terms written in Latin letters in Chinese sales teams' own writing, and units.
ALLOWED = frozenset(
    {
        "KPI",
        "KPIs",
        "CRM",
        "API",
        "URL",
        "CSV",
        "JSON",
        "HTTP",
        "HTTPS",
        "ID",
        "OData",
        "SPIFF",
        "CNY",
        "USD",
        "EUR",
        "HKD",
        "OpenID",
        "Connect",
        "SSO",
        "BI",
        "Excel",
        "Content-Type",
        "Bearer",
        "Authorization",
        "UTF",
        "ISO",
        "YYYY-MM-DD",
        "HH",
        "MM",
        "Webhooks",
        "Standard",
        "SQL",
        # HTTP methods in "PUT /v1/settings" hints
        "GET",
        "PUT",
        "POST",
        "DELETE",
        "PATCH",
        # Product names
        "HubSpot",
        "Pipedrive",
        "Salesforce",
        "Zoho",
        "Slack",
        "Paceline",
        "Grafana",
        "Prometheus",
        "Neocrm",
        "WeCom",
        "DingTalk",
        "Feishu",
        "Lark",
    }
)
# Machine data under these keys (mappings, alert detail, settings, examples) is not read
# as prose even where a key inside is called "title".
MACHINE = frozenset(
    {"default_mapping", "mapping", "detail", "options", "settings", "payload", "evidence"}
)
# Quoted input, URLs and identifiers are not words.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’|`[^`]*`|「[^」]*」|\{[^}]*\}")
_URL = re.compile(r"https?://\S+|/v1/\S*|/odata/\S*")
_RUN = re.compile(r"[A-Za-z0-9_.:/@$+-]+")
_IDENTISH = re.compile(r"[\d_:/@$]|\.[A-Za-z0-9]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")


def english_words(text: str, names: frozenset[str]) -> list[str]:
    """The English words of a text, after quoted input, URLs and identifiers."""
    rest = _URL.sub(" ", _QUOTED.sub(" ", text))
    rest = _RUN.sub(lambda m: " " if _IDENTISH.search(m.group()) else m.group(), rest)
    return [w for w in _WORD.findall(rest) if w not in ALLOWED and w not in names]


def human_texts(value: Any, path: str = "", inside: bool = False) -> Iterator[tuple[str, str]]:
    """(where, text) of every human-readable string in an answer."""
    if isinstance(value, dict):
        if {"zh-CN", "en"} <= set(value):
            yield from human_texts(value["zh-CN"], f"{path}.zh-CN", True)
            return
        for key, item in value.items():
            if key.endswith(("_en", "_code", "_params")) or key in {"en", "params"} | MACHINE:
                continue
            yield from human_texts(item, f"{path}.{key}", inside or key in HUMAN)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from human_texts(item, f"{path}[{n}]", inside)
    elif isinstance(value, str) and inside:
        yield path, value


async def _names(stack: Stack) -> frozenset[str]:
    """Every word of the org chart's names (allowed: names are what people called them)."""
    org = (await stack.client.get("/v1/org", headers=stack.auth())).json()
    words: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "name" and isinstance(item, str):
                    words.update(_WORD.findall(item))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(org)
    return frozenset(words)


async def _first_ids(stack: Stack, ops: list[Operation]) -> dict[str, dict[str, Any]]:
    """For each operation with one path parameter, the first id its list route answers."""
    out: dict[str, dict[str, Any]] = {}
    for op in ops:
        params = op.params("path")
        if op.method != "GET" or len(params) != 1:
            continue
        collection = op.path[: op.path.index("{")].rstrip("/")
        resp = await stack.client.get(collection, headers=stack.auth())
        if resp.status_code != 200 or "json" not in resp.headers.get("content-type", ""):
            continue
        body = resp.json()
        items = body if isinstance(body, list) else None
        if isinstance(body, dict):
            items = body.get("items") or next(
                (v for v in body.values() if isinstance(v, list)), None
            )
        if items and isinstance(items[0], dict):
            name = params[0]["name"]
            for field_name in (name, "id", "key"):
                if field_name in items[0]:
                    out[op.path] = {name: items[0][field_name]}
                    break
    return out


QUERY = {
    "kpi": "revenue",
    "period": "2026-11",
    "scope": "team:north",
    "team": "north",
    "from": "2026-11-01",
    "to": "2026-11-30",
}


def _query(op: Operation) -> dict[str, str]:
    out = {}
    for p in op.params("query"):
        name = p["name"]
        if name in QUERY:
            out[name] = QUERY[name]
        elif p.get("required"):
            out[name] = schema_value(p.get("schema", {}))
    return out


def _url(path: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


async def _walk(stack: Stack, headers: dict[str, str]) -> tuple[list[str], int]:
    """Every answer of the walk: English found (where: words) and texts checked."""
    ops = [
        op
        for op in operations(stack.app.openapi())
        if not is_public(op.method, op.path) and not op.path.startswith("/v1/platform")
    ]
    ids = await _first_ids(stack, ops)
    names = await _names(stack)
    found: list[str] = []
    checked = 0

    def check(label: str, resp: httpx.Response) -> None:
        nonlocal checked
        assert resp.status_code < 500, (label, resp.status_code, resp.text[:300])
        if "json" not in resp.headers.get("content-type", ""):
            return
        body = resp.json()
        # An error names the fields it is about: their names are identifiers too.
        error = body.get("error") if isinstance(body, dict) else None
        fields = error.get("fields", []) if isinstance(error, dict) else []
        allowed = names | {w for f in fields for w in _WORD.findall(str(f.get("field", "")))}
        for where, text in human_texts(body):
            checked += 1
            words = english_words(text, allowed)
            if words:
                found.append(f"{label} {where}: {words} in {text[:160]!r}")

    auth = {**stack.auth(), **headers}
    for op in ops:
        has_path = bool(op.params("path"))
        if op.method == "GET":
            if not has_path or op.path in ids:
                url = _url(op.path, ids.get(op.path, {}))
                answer = await stack.client.get(url, params=_query(op), headers=auth)
                check(f"GET {op.path}", answer)
            for p in op.params("query"):
                bad = {**_query(op), p["name"]: "x9-bad"}
                check(
                    f"GET {op.path}?{p['name']}=bad",
                    await stack.client.get(
                        _url(op.path, ids.get(op.path, {})), params=bad, headers=auth
                    ),
                )
        if has_path:
            missing = {p["name"]: "x9-missing" for p in op.params("path")}
            check(
                f"{op.method} {op.path} (missing)",
                await stack.client.request(
                    op.method, _url(op.path, missing), json={}, headers=auth
                ),
            )
        elif op.method in ("POST", "PUT", "PATCH") and "requestBody" in op.spec:
            check(
                f"{op.method} {op.path} {{}}",
                await stack.client.request(op.method, op.path, json={}, headers=auth),
            )
    # The operations that answer words about a body without changing anything (checks,
    # previews, what-ifs): called with their documented example.
    openapi = stack.app.openapi()
    known = {k: v for values in ids.values() for k, v in values.items()}
    for op in ops:
        if op.method != "POST" or not any(w in op.path for w in PREVIEWS):
            continue
        example = _example(openapi, op)
        path_names = [p["name"] for p in op.params("path")]
        if example is None or any(n not in known for n in path_names):
            continue
        check(
            f"POST {op.path} (example)",
            await stack.client.post(
                _url(op.path, ids.get(op.path, {})), json=example, headers=auth
            ),
        )
    return found, checked


# Paths whose POST only reads (checks, previews, what-ifs).
PREVIEWS = ("check", "decompose", "preview", "what-if")


def _example(openapi: dict[str, Any], op: Operation) -> Any:
    """The documented example body of an operation (its schema's first example)."""
    content = op.spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in content:
        return content["example"]
    schema = content.get("schema", {})
    if "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].split("/")[-1]]
    examples = schema.get("examples") or []
    return examples[0] if examples else None


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_zh_cn_tenant_reads_no_english(tmp_path: Path) -> None:
    clock = FixedClock(REFERENCE)
    settings = embedded_settings(tmp_path, alerts_tick_s=0.0, delivery_poll_s=0.0)
    async with running_stack("embedded", settings, clock=clock) as stack:
        state = stack.app.state.paceline
        runtime = stack.runtime()
        alerting: Alerting = state.extras["alerts"]
        await seed_demo(runtime, tenant_id="default")
        await stack.wait_scored(timeout_s=600)
        await alerting.engine.tick()

        zh_found, zh_checked = await _walk(stack, {})
        en_found, en_checked = await _walk(stack, {"Accept-Language": "en-US,en;q=0.9"})

    # The walk read many texts: alerts, findings, errors of every route.
    assert zh_checked > 300, zh_checked
    if zh_found:
        (Path(__file__).parent / "zh_cn_leaks.txt").write_text("\n".join(zh_found))
    assert zh_found == [], "\n".join(zh_found[:80]) + f"\n({len(zh_found)} in all)"
    # The control: the same walk in English finds English words in a large share of what
    # it read (the rest: names, numbers, ids).
    assert en_checked == zh_checked
    assert len(en_found) > en_checked // 3


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("张伟的收入落后于进度：85%", []),
        ("未知的 KPI 'deals_wonx'", []),
        ("rep:rep-08 is behind on Revenue", ["is", "behind", "on", "Revenue"]),
        ("团队 华北大区 North 的拜访量", []),
        ("请求无效：fields.closed_at：缺少此字段", []),
        ("the request is not valid", ["the", "request", "is", "not", "valid"]),
        ("见 https://example.com/docs 与 /v1/targets", []),
    ],
)
def test_the_english_detector(text: str, words: list[str]) -> None:
    assert english_words(text, frozenset({"North"})) == words
