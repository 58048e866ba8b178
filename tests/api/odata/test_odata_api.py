"""The OData v4 feed (``/odata/v4/``) by OData's own conventions, on a tenant with data.

``$metadata`` parses as CSDL and every entity set's declared properties are exactly the
keys of its JSON rows, each value of its declared type; following ``@odata.nextLink`` to
the end yields exactly the rows of ``GET /v1/facts``; ``$filter``, ``$select``, ``$top``,
``$skip``, ``$orderby``, ``$count`` and ``changed_at`` / ``changed_since`` keep what they
should; another tenant's rows never show; a bad option is a 400 naming it. The clock is
pinned (knowledge times are the pinned receipt times), both run modes.
"""

from __future__ import annotations

import base64
import logging
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from defusedxml.ElementTree import fromstring

from paceline.shared.auth import generate_key
from paceline.shared.clock import FixedClock
from paceline.shared.db import tenants as tenant_repo
from tests.api.facts.test_facts_api import NOVEMBER_DEALS, deal
from tests.support import Stack

pytestmark = pytest.mark.dates

NOW = datetime.fromisoformat("2026-11-25T10:00:00+08:00")
LATER = NOW + timedelta(hours=2)
ROOT = "http://paceline.test/odata/v4/"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
ORG: dict[str, Any] = {
    "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
    "reps": [
        {"id": "r1", "name": "Ann", "team_id": "north"},
        {"id": "r2", "name": "Bo", "team_id": "north"},
        {"id": "r3", "name": "Cy", "team_id": "south"},
    ],
}
NOVEMBER = "day ge 2026-11-01 and day le 2026-11-30"
OTHER = "globex"


# -- the tenant --------------------------------------------------------------------------


async def post_scored(s: Stack, events: list[dict[str, Any]], key: str | None = None) -> None:
    """POST events (all accepted) and wait until they are scored."""
    resp = await s.post_events(events, key=key)
    assert resp.status_code == 202, resp.text
    assert resp.json()["accepted"] == len(events), resp.text
    await s.wait_scored()


async def other_tenant(s: Stack) -> str:
    """A second tenant with an admin key, its own rep and revenue; the key."""
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.ensure_tenant(session, tenant_id=OTHER, name="Globex", now=s.now())
        await tenant_repo.add_key(
            session, tenant_id=OTHER, key=key, name="globex", scopes=["admin"], now=s.now()
        )
    org = {
        "teams": [{"id": "west", "name": "West"}],
        "reps": [{"id": "g1", "name": "Gus", "team_id": "west"}],
    }
    resp = await s.client.put("/v1/org", json=org, headers=s.auth(key.plaintext))
    assert resp.status_code == 200, resp.text
    await post_scored(s, [deal("globex-a", "g1", "2026-11-04", "777")], key=key.plaintext)
    return key.plaintext


async def seed(s: Stack, clock: FixedClock) -> str:
    """Org (r2 moves to south on 16 November), November deals, a rep the chart does not
    know (an alert), targets with a revision, a second tenant; its key."""
    resp = await s.client.put(
        "/v1/reps/r2",
        params={"effective_from": "2026-11-16"},
        json={"id": "r2", "name": "Bo", "team_id": "south"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    await post_scored(s, [*NOVEMBER_DEALS, deal("z", "ghost", "2026-11-11", "40")])
    for scope, value in (("company", "5000"), ("team:north", "3000")):
        resp = await s.client.post(
            "/v1/targets",
            json={"kpi": "revenue", "scope": scope, "period": "2026-11", "target": value},
            headers=s.auth(),
        )
        assert resp.status_code == 201, resp.text
    company = resp.json()["id"] - 1
    resp = await s.client.put(
        f"/v1/targets/{company}",
        json={"target": "5200", "reason": "raised"},
        headers=s.auth(),
    )
    assert resp.status_code == 200, resp.text
    return await other_tenant(s)


@pytest.fixture
async def fed(clocked_both: tuple[Stack, FixedClock]) -> tuple[Stack, FixedClock, str]:
    """The seeded stack (both modes), its clock, and the other tenant's key."""
    s, clock = clocked_both
    return s, clock, await seed(s, clock)


@pytest.fixture
async def fed_embedded(clocked: tuple[Stack, FixedClock]) -> tuple[Stack, FixedClock, str]:
    """The same, embedded only."""
    s, clock = clocked
    return s, clock, await seed(s, clock)


async def odata(s: Stack, path: str, key: str | None = None, **headers: str) -> httpx.Response:
    """GET a feed URL (absolute or relative to the service root)."""
    url = path if path.startswith("http") else ROOT + path
    return await s.client.get(url, headers=s.auth(key) | headers)


async def ok(s: Stack, path: str, key: str | None = None, **headers: str) -> dict[str, Any]:
    """A 200 page with OData's version header, decoded with exact decimals."""
    resp = await odata(s, path, key, **headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["odata-version"] == "4.0"
    assert resp.headers["content-type"].startswith("application/json;odata.metadata=minimal")
    out: dict[str, Any] = orjson.loads(resp.content)
    return out


async def everything(
    s: Stack, path: str, key: str | None = None, **headers: str
) -> list[dict[str, Any]]:
    """Follow @odata.nextLink to the end; every row, and no page bigger than asked."""
    rows: list[dict[str, Any]] = []
    link: str | None = path
    pages = 0
    while link is not None:
        page = await ok(s, link, key, **headers)
        rows += page["value"]
        link = page.get("@odata.nextLink")
        pages += 1
        assert pages < 100
    return rows


def decimals(value: Any) -> Any:
    """A JSON number as the Decimal it spells (orjson gives floats; compare by text)."""
    return (
        None
        if value is None
        else Decimal(repr(value))
        if isinstance(value, float)
        else Decimal(value)
    )


# -- metadata -----------------------------------------------------------------------------


def schema_of(xml: bytes) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Entity types (keys and properties) and the container's sets, from CSDL."""
    root = fromstring(xml)
    assert root.tag == f"{EDMX}Edmx"
    assert root.attrib["Version"] == "4.0"
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema is not None
    namespace = schema.attrib["Namespace"]
    types = {}
    for etype in schema.findall(f"{EDM}EntityType"):
        keys = [r.attrib["Name"] for r in etype.findall(f"{EDM}Key/{EDM}PropertyRef")]
        props = {p.attrib["Name"]: p.attrib for p in etype.findall(f"{EDM}Property")}
        types[f"{namespace}.{etype.attrib['Name']}"] = {"keys": keys, "props": props}
    container = schema.find(f"{EDM}EntityContainer")
    assert container is not None
    sets = {e.attrib["Name"]: e.attrib["EntityType"] for e in container.findall(f"{EDM}EntitySet")}
    return types, sets


def assert_typed(value: Any, attrs: dict[str, str], where: str) -> None:
    """A JSON value has the Edm type (and nullability) its property declares."""
    if value is None:
        assert attrs.get("Nullable") != "false", f"{where}: null in a non-nullable property"
        return
    edm = attrs["Type"]
    if edm == "Edm.String":
        assert isinstance(value, str), where
    elif edm == "Edm.Boolean":
        assert isinstance(value, bool), where
    elif edm in {"Edm.Int64", "Edm.Int32"}:
        assert isinstance(value, int), where
        assert not isinstance(value, bool), where
    elif edm == "Edm.Decimal":
        assert isinstance(value, int | float), where
        assert not isinstance(value, bool), where
        if attrs.get("Scale", "variable") != "variable":
            exponent = decimals(value).as_tuple().exponent
            assert isinstance(exponent, int), where
            assert -exponent <= int(attrs["Scale"]), where
    elif edm == "Edm.Date":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), where
        date.fromisoformat(value)
    elif edm == "Edm.DateTimeOffset":
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", value), where
    else:
        raise AssertionError(f"{where}: unexpected type {edm}")


async def test_metadata_declares_exactly_the_rows_each_set_answers(
    fed: tuple[Stack, FixedClock, str],
) -> None:
    s, _, _ = fed
    resp = await odata(s, "$metadata")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/xml")
    assert resp.headers["odata-version"] == "4.0"
    types, sets = schema_of(resp.content)
    document = await ok(s, "")
    assert document["@odata.context"] == ROOT + "$metadata"
    assert [(e["name"], e["url"], e["kind"]) for e in document["value"]] == [
        (name, name, "EntitySet") for name in sets
    ]
    assert list(sets) == [
        "Kpis", "Teams", "Reps", "Memberships", "Facts", "Targets", "TargetVersions",
        "Progress", "Alerts",
    ]  # fmt: skip
    for name, type_name in sets.items():
        declared = types[type_name]
        assert set(declared["keys"]) <= set(declared["props"]), name
        page = await ok(s, name)
        assert page["@odata.context"] == f"{ROOT}$metadata#{name}"
        assert page["value"], f"{name} has no rows for a tenant with data"
        for row in page["value"]:
            assert list(row) == list(declared["props"]), name
            for prop, attrs in declared["props"].items():
                assert_typed(row[prop], attrs, f"{name}.{prop}")
    # Money and figures keep their scale and every digit.
    facts = types[sets["Facts"]]["props"]
    assert (facts["value"]["Type"], facts["value"]["Scale"]) == ("Edm.Decimal", "4")
    assert facts["day"]["Type"] == "Edm.Date"
    assert facts["changed_at"]["Type"] == "Edm.DateTimeOffset"
    assert types[sets["Facts"]]["keys"] == ["kpi", "rep_id", "day"]


# -- facts --------------------------------------------------------------------------------


async def v1_facts(s: Stack, kpi: str = "revenue") -> list[dict[str, Any]]:
    """GET /v1/facts for a KPI in November by rep and day, every page."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"kpi": kpi, "from": "2026-11-01", "to": "2026-11-30", "limit": "2"}
        resp = await s.client.get(
            "/v1/facts", params=params | ({"cursor": cursor} if cursor else {}), headers=s.auth()
        )
        assert resp.status_code == 200, resp.text
        rows += resp.json()["rows"]
        cursor = resp.json()["next_cursor"]
        if cursor is None:
            return rows


async def test_next_links_to_the_end_yield_exactly_the_facts_api_rows(
    fed: tuple[Stack, FixedClock, str],
) -> None:
    s, _, other_key = fed
    url = f"Facts?$filter=kpi eq 'revenue' and {NOVEMBER}"
    rows = await everything(s, url, Prefer="odata.maxpagesize=2")
    expected = await v1_facts(s)
    assert len(expected) == 6
    assert [
        (r["rep_id"], r["day"], decimals(r["value"]), decimals(r["numerator"]),
         decimals(r["denominator"]), r["sample"])
        for r in rows
    ] == [
        (r["rep_id"], r["day"], decimals(r["value"]), decimals(r["numerator"]),
         decimals(r["denominator"]), r["sample"])
        for r in expected
    ]  # fmt: skip
    # Names, and the rep's team on the fact's day (r2 moved to south on the 16th).
    named = {(r["rep_id"], r["day"]): (r["rep_name"], r["team_id"], r["team_name"]) for r in rows}
    assert named[("r2", "2026-11-05")] == ("Bo", "north", "North")
    assert named[("r2", "2026-11-20")] == ("Bo", "south", "South")
    assert named[("ghost", "2026-11-11")] == (None, None, None)
    assert {r["changed_at"] for r in rows} == {"2026-11-25T02:00:00Z"}
    # The page size was kept and the links carry the filter, not the key.
    first = await odata(s, url, Prefer="odata.maxpagesize=2")
    assert first.headers["preference-applied"] == "odata.maxpagesize=2"
    link = first.json()["@odata.nextLink"]
    assert link.startswith(ROOT + "Facts?")
    assert "$filter=" in link
    assert "%24filter=" not in link
    assert len(first.json()["value"]) == 2
    # Exact decimals: the JSON number has the four places (1000.0000).
    assert b'"value":1000.0000' in first.content
    # Without a KPI filter, every KPI's facts, still in key order; the other tenant's
    # facts never show, and its key sees only its own.
    # A won deal with a new customer: a distinct count among the KPIs below.
    new = deal("nc", "r1", "2026-11-24", "10") | {"customer_id": "c-9", "is_new_customer": True}
    await post_scored(s, [new])
    every = await everything(s, f"Facts?$filter={NOVEMBER}")
    kpis = sorted({r["kpi"] for r in every})
    # a sum, a count, a ratio, distinct counts and a working-day share
    assert {"revenue", "deals_won", "win_rate", "new_customers", "complaint_rate"} <= set(kpis)
    assert "crm_active_days" in kpis
    for kpi in kpis:  # sums, counts, ratios, distinct counts alike
        assert [
            (r["rep_id"], r["day"], decimals(r["value"]), decimals(r["numerator"]),
             decimals(r["denominator"]), r["sample"])
            for r in every if r["kpi"] == kpi
        ] == [
            (r["rep_id"], r["day"], decimals(r["value"]), decimals(r["numerator"]),
             decimals(r["denominator"]), r["sample"])
            for r in await v1_facts(s, kpi)
        ], kpi  # fmt: skip
    assert [(r["kpi"], r["rep_id"], r["day"]) for r in every] == sorted(
        (r["kpi"], r["rep_id"], r["day"]) for r in every
    )
    assert "g1" not in {r["rep_id"] for r in every}
    theirs = await everything(s, "Facts?$filter=kpi eq 'revenue'", other_key)
    assert [(r["rep_id"], r["day"], decimals(r["value"]), r["team_id"]) for r in theirs] == [
        ("g1", "2026-11-04", Decimal(777), "west")
    ]
    for name in ("Reps", "Teams", "Memberships", "Targets", "Alerts"):
        mine = await everything(s, name)
        their = await everything(s, name, other_key)
        assert not {orjson.dumps(r) for r in mine} & {orjson.dumps(r) for r in their}, name
    assert [r["rep_id"] for r in await everything(s, "Reps", other_key)] == ["g1"]


async def test_filter_select_top_skip_orderby_count(
    fed_embedded: tuple[Stack, FixedClock, str],
) -> None:
    s, _, _ = fed_embedded
    base = f"Facts?$filter=kpi eq 'revenue' and {NOVEMBER}"
    all_rows = await everything(s, base)
    keys = [(r["rep_id"], r["day"]) for r in all_rows]
    # $select: only those properties, named in the context.
    page = await ok(s, base + "&$select=rep_id,value")
    assert page["@odata.context"] == f"{ROOT}$metadata#Facts(rep_id,value)"
    assert [list(r) for r in page["value"]] == [["rep_id", "value"]] * len(all_rows)
    # The key order may be asked for (it is the only one).
    assert await everything(s, base + "&$orderby=kpi,rep_id asc,day") == all_rows
    # $top and $skip, also across pages.
    top = await everything(s, base + "&$top=3", Prefer="odata.maxpagesize=2")
    assert [(r["rep_id"], r["day"]) for r in top] == keys[:3]
    skipped = await everything(s, base + "&$skip=2&$top=3", Prefer="odata.maxpagesize=2")
    assert [(r["rep_id"], r["day"]) for r in skipped] == keys[2:5]
    # Filters on rep, the team of the day, the day and values of the key.
    r1 = await everything(s, base + " and rep_id eq 'r1'")
    assert [r["day"] for r in r1] == ["2026-11-03", "2026-11-10"]
    south = await everything(s, base + " and team_id eq 'south'")
    assert [(r["rep_id"], r["day"]) for r in south] == [("r2", "2026-11-20"), ("r3", "2026-11-20")]
    nobody = await everything(s, base + " and team_id eq null")
    assert [r["rep_id"] for r in nobody] == ["ghost"]
    not_r1 = await everything(s, base + " and (rep_id ne 'r1' and day gt 2026-11-05)")
    assert [(r["rep_id"], r["day"]) for r in not_r1] == [
        ("ghost", "2026-11-11"), ("r2", "2026-11-20"), ("r3", "2026-11-20"),
    ]  # fmt: skip
    assert await everything(s, base + " and day lt 2026-11-03") == []
    # The other sets: filters, order, count, paging by skip token.
    moves = await everything(s, "Memberships?$filter=rep_id eq 'r2'&$orderby=valid_from")
    assert [(m["team_id"], m["valid_from"], m["valid_to"]) for m in moves] == [
        ("north", moves[0]["valid_from"], "2026-11-16"),
        ("south", "2026-11-16", None),
    ]
    teams = await ok(s, "Teams?$orderby=name desc&$count=true")
    assert [t["team_id"] for t in teams["value"]] == ["south", "north"]
    assert teams["@odata.count"] == 2
    reps = await everything(s, "Reps?$select=rep_id&$top=2", Prefer="odata.maxpagesize=1")
    assert reps == [{"rep_id": "r1"}, {"rep_id": "r2"}]
    kpis = await ok(s, "Kpis?$filter=kpi eq 'revenue'")
    assert [(k["name_zh"], k["name_en"], k["unit"]) for k in kpis["value"]] == [
        (kpis["value"][0]["name_zh"], "Revenue", "currency")
    ]
    versions = await ok(s, "TargetVersions?$filter=scope eq 'company'")
    assert [(v["version"], v["target"], v["is_current"]) for v in versions["value"]] == [
        (1, 5000, False),
        (2, 5200, True),
    ]
    current = await ok(s, "Targets?$filter=scope_kind eq 'team' and scope_id eq 'north'")
    assert [
        (t["kpi"], t["period"], t["target"], t["start"], t["end"]) for t in current["value"]
    ] == [("revenue", "2026-11", 3000, "2026-11-01", "2026-12-01")]
    alerts = await ok(s, "Alerts?$filter=type eq 'unknown_rep'")
    assert [a["scope"] for a in alerts["value"]] == ["rep:ghost"]


async def test_progress_rows_equal_the_progress_api(
    fed_embedded: tuple[Stack, FixedClock, str],
) -> None:
    s, clock, _ = fed_embedded
    rows = await everything(s, "Progress", Prefer="odata.maxpagesize=1")
    assert [(r["kpi"], r["scope"], r["period"]) for r in rows] == [
        ("revenue", "company", "2026-11"),
        ("revenue", "team:north", "2026-11"),
    ]
    for row in rows:
        resp = await s.client.get(
            "/v1/progress",
            params={"kpi": row["kpi"], "scope": row["scope"], "period": row["period"]},
            headers=s.auth(),
        )
        single = resp.json()
        for name in ("actual", "target", "expected", "pace", "projection_linear"):
            assert decimals(row[name]) == decimals(single[name]), name
        assert (row["status"], row["sample"], row["target_version"]) == (
            single["status"], single["sample"], single["target_version"],
        )  # fmt: skip
    assert decimals(rows[0]["target"]) == Decimal(5200)
    north = await ok(s, "Progress?$filter=scope eq 'team:north'&$select=scope,actual")
    # north: r1 1000 + 500, r2 300 before the move.
    assert north["value"] == [{"scope": "team:north", "actual": 1800.0}]
    # A deal received while a BI tool pages: the next page still stands where the first
    # did (its link carries the instant, and reads what was known then).
    first = await ok(s, "Progress", Prefer="odata.maxpagesize=1")
    clock.set(LATER)
    await post_scored(s, [deal("late", "r1", "2026-11-24", "5000")])
    second = await ok(s, first["@odata.nextLink"])
    assert "@odata.nextLink" not in second
    assert [r["as_of"] for r in first["value"] + second["value"]] == ["2026-11-25T02:00:00Z"] * 2
    assert decimals(second["value"][0]["actual"]) == Decimal(1800)  # not 6800
    again = await ok(s, "Progress?$filter=scope eq 'team:north'")
    assert decimals(again["value"][0]["actual"]) == Decimal(6800)  # a new read sees it


async def test_changed_at_and_changed_since_give_what_changed_later(
    fed_embedded: tuple[Stack, FixedClock, str],
) -> None:
    s, clock, _ = fed_embedded
    clock.set(LATER)
    await post_scored(
        s,
        [
            deal("c", "r2", "2026-11-05", "450", version=2),  # a correction
            deal("n", "r3", "2026-11-24", "90"),  # a new deal
        ],
    )
    since = (LATER - timedelta(minutes=1)).isoformat().replace("+", "%2B")
    changed = await everything(s, f"Facts?$filter=kpi eq 'revenue' and changed_at ge {since}")
    assert [(r["rep_id"], r["day"], decimals(r["value"]), r["changed_at"]) for r in changed] == [
        ("r2", "2026-11-05", Decimal(450), "2026-11-25T04:00:00Z"),
        ("r3", "2026-11-24", Decimal(90), "2026-11-25T04:00:00Z"),
    ]
    by_param = await everything(s, f"Facts?$filter=kpi eq 'revenue'&changed_since={since}")
    assert by_param == changed
    # The links repeat changed_since.
    first = await ok(
        s, f"Facts?$filter=kpi eq 'revenue'&changed_since={since}", Prefer="odata.maxpagesize=1"
    )
    assert "changed_since=" in first["@odata.nextLink"]
    older = await everything(
        s,
        "Facts?$filter=kpi eq 'revenue' and changed_at lt 2026-11-25T03:00:00Z"
        " and day le 2026-11-30",
    )
    # Everything not changed since, October's deal included (no lower day bound).
    assert [(r["rep_id"], r["day"]) for r in older] == [
        ("ghost", "2026-11-11"),
        ("r1", "2026-10-31"),
        ("r1", "2026-11-03"),
        ("r1", "2026-11-10"),
        ("r2", "2026-11-20"),
        ("r3", "2026-11-20"),
    ]
    # A filter that keeps nothing, on a day with facts of the other KPIs too.
    assert (
        await everything(s, f"Facts?$filter=changed_at gt {LATER.isoformat().replace('+', '%2B')}")
        == []
    )


# -- errors and keys ------------------------------------------------------------------------

BAD = [
    ("Facts?$filter=value gt 3", "$filter"),
    ("Facts?$filter=day ge '2026-11-01'", "$filter"),
    ("Facts?$filter=rep_id eq 'r1' or rep_id eq 'r2'", "$filter"),
    ("Facts?$filter=year(day) eq 2026", "$filter"),
    ("Facts?$filter=day ge 2026-13-01", "$filter"),
    ("Facts?$filter=rep_id gt null", "$filter"),
    ("Facts?$filter=(rep_id eq 'r1'", "$filter"),
    ("Facts?$filter=" + " and ".join(["rep_id eq 'r1'"] * 17), "$filter"),
    ("Facts?$filter=rep_id eq '" + "x" * 1000 + "'", "$filter"),
    ("Facts?$select=rep_id,nope", "$select"),
    ("Facts?$orderby=value desc", "$orderby"),
    ("Facts?$orderby=day", "$orderby"),
    ("Facts?$orderby=kpi desc", "$orderby"),
    ("Facts?$count=true", "$count"),
    ("Facts?$top=-1", "$top"),
    ("Facts?$skip=abc", "$skip"),
    ("Facts?$skip=50001", "$skip"),
    ("Facts?$skiptoken=not-ours", "$skiptoken"),
    ("Teams?$skiptoken=eyJ4IjoxfQ", "$skiptoken"),
    ("Facts?$expand=Rep", "$expand"),
    ("Facts?$wat=1", "$wat"),
    ("Facts?$format=xml", "$format"),
    ("Facts?changed_since=yesterday", "changed_since"),
    ("Teams?$orderby=name sideways", "$orderby"),
    ("Progress?$orderby=actual", "$orderby"),
    ("Progress?$filter=status eq 'behind'", "$filter"),
]


@pytest.mark.parametrize(("url", "target"), BAD)
async def test_a_bad_option_is_a_400_naming_it(
    clocked: tuple[Stack, FixedClock], url: str, target: str
) -> None:
    s, _ = clocked
    resp = await odata(s, url, **{"Accept-Language": "en"})
    assert resp.status_code == 400, resp.text
    assert resp.headers["odata-version"] == "4.0"
    error = resp.json()["error"]
    assert (error["code"], error["target"], error["status"]) == (
        "invalid_query_option",
        target,
        400,
    )
    assert error["message"].startswith(f"{target}: ")
    assert [f["field"] for f in error["fields"]] == [target]


async def test_messages_follow_the_language(clocked: tuple[Stack, FixedClock]) -> None:
    s, _ = clocked
    zh = await odata(s, "Facts?$filter=value gt 3", **{"Accept-Language": "zh-CN"})
    en = await odata(s, "Facts?$filter=value gt 3", **{"Accept-Language": "en"})
    zh_error, en_error = zh.json()["error"], en.json()["error"]
    assert zh_error["message"] == (
        "$filter：不能按“value”筛选；可用：“kpi”、“day”、“rep_id”、“team_id”和“changed_at”"
    )
    assert en_error["message"] == (
        "$filter: cannot filter on 'value'; use one of 'kpi', 'day', 'rep_id', 'team_id', "
        "and 'changed_at'"
    )
    # The same code and parameters for machines, whatever the language.
    assert zh_error["message_code"] == en_error["message_code"] == "odata.error"
    assert zh_error["message_params"] == en_error["message_params"]
    (field,) = zh_error["fields"]
    assert (field["field"], field["reason_code"]) == ("$filter", "odata.filter_field")
    assert field["reason_params"] == {
        "name": "value",
        "allowed": [{"$code": c} for c in ("kpi", "day", "rep_id", "team_id", "changed_at")],
    }
    assert field["reason"] == (
        "不能按“value”筛选；可用：“kpi”、“day”、“rep_id”、“team_id”和“changed_at”"
    )
    # Without Accept-Language: the tenant's language (zh-CN).
    default = await odata(s, "Facts?$filter=value gt 3")
    assert default.json()["error"]["message"] == zh_error["message"]


async def test_keys_as_a_header_basic_credentials_or_api_key(
    clocked: tuple[Stack, FixedClock], caplog: pytest.LogCaptureFixture
) -> None:
    s, _ = clocked
    caplog.set_level(logging.INFO)
    anonymous = await s.client.get(ROOT + "Teams")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic ")
    assert anonymous.json()["error"]["code"] == "unauthorized"
    basic = base64.b64encode(f"bi:{s.admin_key}".encode()).decode()
    resp = await s.client.get(ROOT + "Teams", headers={"Authorization": f"Basic {basic}"})
    assert resp.status_code == 200, resp.text
    assert [t["team_id"] for t in resp.json()["value"]] == ["north", "south"]
    wrong = base64.b64encode(b"bi:nope").decode()
    resp = await s.client.get(ROOT + "Teams", headers={"Authorization": f"Basic {wrong}"})
    assert resp.status_code == 401
    resp = await s.client.get(
        ROOT + "Teams", params={"api_key": s.admin_key}, headers={"Prefer": "odata.maxpagesize=1"}
    )
    assert resp.status_code == 200, resp.text
    assert s.admin_key not in resp.text  # the next link does not repeat the key
    assert "@odata.nextLink" in resp.json()
    # An ingest key has no read scope: 403 naming it.
    key = generate_key()
    async with s.db.transaction() as session:
        await tenant_repo.add_key(
            session,
            tenant_id=s.settings.default_tenant,
            key=key,
            name="ingest",
            scopes=["ingest"],
            now=s.now(),
        )
    resp = await s.client.get(ROOT + "$metadata", params={"api_key": key.plaintext})
    assert resp.status_code == 403
    assert "'read'" in resp.json()["error"]["message"]
    lines = [r.getMessage() for r in caplog.records if r.name == "paceline.access"]
    assert any("api_key=REDACTED" in line for line in lines)
    assert not any(s.admin_key in line or key.plaintext in line for line in lines)


def documented_urls() -> list[str]:
    """The ``GET /odata/v4/...`` lines of docs/BI.md's OData section."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "BI.md").read_text(encoding="utf-8")
    section = doc.split("## OData feed", 1)[1]
    return re.findall(r"^GET /odata/v4/(\S.*)$", section, flags=re.M)


async def test_the_documented_urls_answer(fed_embedded: tuple[Stack, FixedClock, str]) -> None:
    s, _, _ = fed_embedded
    urls = documented_urls()
    assert len(urls) == 7
    for url in urls:
        page = await ok(s, url.replace("+", "%2B"))
        assert isinstance(page["value"], list), url
    revenue = await ok(s, urls[0])
    assert len(revenue["value"]) == 6


async def test_a_key_with_a_bounded_reach_is_refused_the_whole_tenant_feed(
    clocked: tuple[Stack, FixedClock],
) -> None:
    s, _ = clocked
    keys = {}
    for role, anchor in (("manager", {"team_id": "north"}), ("rep", {"rep_id": "r1"}), ("bi", {})):
        made = await s.client.post(
            "/v1/users",
            json={"email": f"{role}@example.cn", "name": role, "role": role, **anchor},
            headers=s.auth(),
        )
        assert made.status_code == 201, made.text
        resp = await s.client.post(
            "/v1/keys",
            json={"name": role, "scopes": ["read"], "user_id": made.json()["id"]},
            headers=s.auth(),
        )
        assert resp.status_code == 201, resp.text
        keys[role] = resp.json()["key"]
    for role in ("manager", "rep"):
        basic = base64.b64encode(f"bi:{keys[role]}".encode()).decode()
        for resp in (
            await s.client.get(ROOT + "Teams", headers={"Authorization": f"Basic {basic}"}),
            await s.client.get(ROOT + "Facts", params={"api_key": keys[role]}),
            await s.client.get(ROOT + "$metadata", headers=s.auth(keys[role])),
        ):
            assert resp.status_code == 403, (role, resp.text)
            assert resp.json()["error"]["message_code"] == "web.auth.out_of_reach"
    resp = await s.client.get(ROOT + "Teams", params={"api_key": keys["bi"]})
    assert resp.status_code == 200, resp.text
    assert [t["team_id"] for t in resp.json()["value"]] == ["north", "south"]
