"""An independent OData v4 client reads the feed: python-odata (PyPI ``python-odata``)
reflects the entity sets from ``$metadata``, builds its queries itself (``$filter`` in
its own parenthesised form, ``$select``, ``$orderby``) and follows ``@odata.nextLink``.

The app is served by uvicorn on 127.0.0.1 (a free port, stopped afterwards); the client
(requests, synchronous) runs in a thread so the server keeps answering. Basic
credentials carry the key, as in Excel; pages of two rows make it follow next links.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI
from odata import ODataService
from requests.auth import HTTPBasicAuth

from paceline.shared.clock import FixedClock
from tests.api.odata.test_odata_api import NOW, ORG, seed
from tests.support import Stack

pytestmark = pytest.mark.dates

__all__ = ["NOW", "ORG"]  # the clocked fixture reads the clock and the org chart here


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on 127.0.0.1 at a free port (its lifespan already runs); the base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def read_with_client(root: str, key: str) -> dict[str, Any]:
    """What python-odata reads: the sets it reflected and a few queries (synchronous)."""
    session = requests.Session()
    session.auth = HTTPBasicAuth("bi", key)
    # Two rows a page: the client must follow @odata.nextLink for every query below.
    service = ODataService(
        root,
        reflect_entities=True,
        session=session,
        quiet_progress=True,
        extra_headers={"Prefer": "odata.maxpagesize=2"},
    )
    facts = service.entities["Facts"]
    query = service.query(facts)
    revenue = (
        query.filter("kpi eq 'revenue'")
        .filter("day ge 2026-11-01")
        .filter("day le 2026-11-30")
        .select(facts.rep_id, facts.day, facts.value)
    )
    reps = service.entities["Reps"]
    by_name = service.query(reps).order_by(reps.name.desc())
    return {
        "sets": sorted(service.entities),
        "revenue": [(r["rep_id"], r["day"], Decimal(str(r["value"]))) for r in revenue],
        "facts_entities": [
            (f.rep_id, f.kpi, f.value) for f in service.query(facts).filter("kpi eq 'revenue'")
        ],
        "reps": [(r.rep_id, r.name) for r in by_name],
    }


async def test_python_odata_reads_the_feed(
    clocked: tuple[Stack, FixedClock], caplog: pytest.LogCaptureFixture
) -> None:
    s, clock = clocked
    caplog.set_level(logging.INFO, logger="paceline.access")
    await seed(s, clock)
    async with served(s.app) as base:
        got = await asyncio.to_thread(read_with_client, f"{base}/odata/v4/", s.admin_key)
    assert got["sets"] == [
        "Alerts", "Facts", "Kpis", "Memberships", "Progress", "Reps", "TargetVersions",
        "Targets", "Teams",
    ]  # fmt: skip
    assert got["revenue"] == [
        ("ghost", "2026-11-11", Decimal(40)),
        ("r1", "2026-11-03", Decimal(1000)),
        ("r1", "2026-11-10", Decimal(500)),
        ("r2", "2026-11-05", Decimal(300)),
        ("r2", "2026-11-20", Decimal(700)),
        ("r3", "2026-11-20", Decimal(200)),
    ]
    # Whole entities, typed by the client from $metadata (Edm.Decimal -> Decimal), over
    # every day (October's and December's deals too).
    assert ("r1", "revenue", Decimal(50)) in got["facts_entities"]
    assert len(got["facts_entities"]) == 8
    assert got["reps"] == [("r3", "Cy"), ("r2", "Bo"), ("r1", "Ann")]
    # It followed the next links (the access log shows the pages it asked for).
    pages = [
        r.getMessage()
        for r in caplog.records
        if r.name == "paceline.access" and "skiptoken" in r.getMessage()
    ]
    assert len(pages) >= 3 + 3 + 1
    assert all(" 200 " in line for line in pages)
