"""Nightly reconciliation: Pipedrive webhooks with a dropped window, repaired by importing
the deals export through the history import with the recipe of docs/CONNECTORS.md.

The CRM's history below is the truth. Every change is a Pipedrive v2 webhook; the ones in
the 30-minute ban window (2026-11-10 06:00-06:30 UTC) are never sent. The export taken the
next day (fixtures/pipedrive/export_deals.csv) holds each deal's latest state. After it is
imported, the facts must equal those of a second stack that received every webhook, the
delivered records must not count twice, and importing the file again must change nothing.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paceline.cli.main import main as cli
from paceline.ingest.imports.mapping import RowMapper, check_mapping
from paceline.ingest.imports.schemas import ImportMapping
from paceline.shared.db.models import Event, Record
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg
from tests.ingest.webhooks.support import (
    facts,
    fixture,
    fixture_source,
    post_webhook,
    quarantine,
    stored_events,
)
from tests.ingest.webhooks.test_pipedrive import PASSWORD, USER, basic, pipedrive_connector
from tests.support import Stack, embedded_settings, running_stack, stored_facts

DOC = Path(__file__).parents[3] / "docs" / "CONNECTORS.md"
ANNA, BEN = 201, 202  # Pipedrive user ids; the connector maps them to r-anna and r-ben
IMPORT = "pipedrive-nightly"


def recipe_block(marker: str, lang: str) -> str:
    """The fenced block that follows a ``<!-- recipe: ... -->`` marker in CONNECTORS.md."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"<!-- recipe: {marker}")
    found = re.search(rf"```{lang}\n(.*?)```", text[start:], flags=re.S)
    assert found is not None, f"no {lang} block after the {marker} marker"
    return found.group(1)


def recipe_mapping() -> dict[str, Any]:
    """The import mapping exactly as docs/CONNECTORS.md gives it."""
    mapping: dict[str, Any] = orjson.loads(recipe_block("pipedrive-nightly.json", "json"))
    return mapping


# -- the CRM's history -----------------------------------------------------------------------


def deal(
    ident: int,
    title: str,
    value: int,
    owner: int,
    org: int,
    status: str,
    add_time: str,
    update_time: str,
    won_time: str | None = None,
    lost_time: str | None = None,
) -> dict[str, Any]:
    """A deal as Pipedrive's webhooks v2 carry it in ``data`` (times in UTC)."""
    return {
        "id": ident,
        "title": title,
        "value": value,
        "currency": "CNY",
        "status": status,
        "stage_id": 3,
        "pipeline_id": 1,
        "owner_id": owner,
        "person_id": None,
        "org_id": org,
        "add_time": add_time,
        "update_time": update_time,
        "won_time": won_time,
        "lost_time": lost_time,
        "close_time": won_time or lost_time,
        "lost_reason": None,
        "expected_close_date": "2026-11-30",
        "probability": None,
        "custom_fields": {},
    }


@dataclass(frozen=True)
class Change:
    """One change in the CRM: the webhook Pipedrive sends for it (if it is not dropped)."""

    action: str  # create | change | delete
    state: dict[str, Any]  # the deal after the change (before it, for a delete)
    at: str  # when it happened (UTC); the webhook's meta.timestamp is 250 ms later
    delivered: bool = True

    def body(self, seq: int) -> bytes:
        """The webhooks v2 delivery (meta / data / previous)."""
        at = datetime.fromisoformat(self.at.replace("Z", "+00:00")) + timedelta(milliseconds=250)
        ident = self.state["id"]
        meta = {
            "action": self.action,
            "entity": "deal",
            "entity_id": str(ident),
            "id": f"7c1e0d2a-{ident:04d}-4b8e-9f00-{seq:012d}",
            "company_id": "9812",
            "user_id": str(self.state["owner_id"]),
            "is_bulk_edit": False,
            "timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "type": "general",
            "version": "2.0",
            "webhook_id": "77",
            "webhook_owner_id": "201",
            "change_source": "app",
            "attempt": 1,
            "host": "acme.pipedrive.com",
        }
        if self.action == "delete":
            payload = {"meta": meta, "data": None, "previous": self.state}
        else:
            payload = {"meta": meta, "data": self.state, "previous": None}
        return orjson.dumps(payload)


D41 = ("Acme CRM rollout", 12, "2026-11-02T02:00:00Z")
D42 = ("Beta renewal", 13, "2026-11-03T04:00:00Z")
D43 = ("Acme training", 12, "2026-11-04T01:00:00Z")
D44 = ("Gamma platform", 14, "2026-11-04T05:00:00Z")
D45 = ("Beta add-on", 13, "2026-11-05T02:00:00Z")
D46 = ("Gamma pilot", 14, "2026-11-10T06:05:00Z")
D47 = ("Acme expansion", 12, "2026-11-06T08:00:00Z")
WON_45 = deal(
    45, D45[0], 1500, BEN, 13, "won", D45[2], "2026-11-08T03:00:00Z", "2026-11-08T03:00:00Z"
)

# Before the export (2026-11-11). delivered=False: inside the ban window, never sent.
HISTORY = [
    # 41: created and won; both delivered
    Change("create", deal(41, D41[0], 4000, ANNA, 12, "open", D41[2], D41[2]), D41[2]),
    Change(
        "change",
        deal(
            41,
            D41[0],
            4500,
            ANNA,
            12,
            "won",
            D41[2],
            "2026-11-05T03:00:00Z",
            "2026-11-05T03:00:00Z",
        ),
        "2026-11-05T03:00:00Z",
    ),
    # 42: created (delivered), won for 3200 in the window (dropped)
    Change("create", deal(42, D42[0], 3000, BEN, 13, "open", D42[2], D42[2]), D42[2]),
    Change(
        "change",
        deal(
            42, D42[0], 3200, BEN, 13, "won", D42[2], "2026-11-10T06:10:00Z", "2026-11-10T06:10:00Z"
        ),
        "2026-11-10T06:10:00Z",
        delivered=False,
    ),
    # 43: created and won for 2000 (delivered), amount corrected to 2600 in the window
    Change("create", deal(43, D43[0], 2000, ANNA, 12, "open", D43[2], D43[2]), D43[2]),
    Change(
        "change",
        deal(
            43,
            D43[0],
            2000,
            ANNA,
            12,
            "won",
            D43[2],
            "2026-11-06T02:00:00Z",
            "2026-11-06T02:00:00Z",
        ),
        "2026-11-06T02:00:00Z",
    ),
    Change(
        "change",
        deal(
            43,
            D43[0],
            2600,
            ANNA,
            12,
            "won",
            D43[2],
            "2026-11-10T06:12:00Z",
            "2026-11-06T02:00:00Z",
        ),
        "2026-11-10T06:12:00Z",
        delivered=False,
    ),
    # 44: created and won by Anna (delivered), reassigned to Ben in the window
    Change("create", deal(44, D44[0], 5000, ANNA, 14, "open", D44[2], D44[2]), D44[2]),
    Change(
        "change",
        deal(
            44,
            D44[0],
            5000,
            ANNA,
            14,
            "won",
            D44[2],
            "2026-11-07T12:30:00Z",
            "2026-11-07T12:30:00Z",
        ),
        "2026-11-07T12:30:00Z",
    ),
    Change(
        "change",
        deal(
            44, D44[0], 5000, BEN, 14, "won", D44[2], "2026-11-10T06:15:00Z", "2026-11-07T12:30:00Z"
        ),
        "2026-11-10T06:15:00Z",
        delivered=False,
    ),
    # 45: created and won (delivered), deleted in the window
    Change("create", deal(45, D45[0], 1500, BEN, 13, "open", D45[2], D45[2]), D45[2]),
    Change("change", WON_45, "2026-11-08T03:00:00Z"),
    Change("delete", WON_45, "2026-11-10T06:20:00Z", delivered=False),
    # 46: created and lost inside the window: never seen by the webhooks
    Change(
        "create",
        deal(46, D46[0], 900, BEN, 14, "open", D46[2], D46[2]),
        D46[2],
        delivered=False,
    ),
    Change(
        "change",
        deal(
            46,
            D46[0],
            900,
            BEN,
            14,
            "lost",
            D46[2],
            "2026-11-10T06:25:00Z",
            None,
            "2026-11-10T06:25:00Z",
        ),
        "2026-11-10T06:25:00Z",
        delivered=False,
    ),
    # 47: created (delivered); untouched until after the export
    Change("create", deal(47, D47[0], 7000, BEN, 12, "open", D47[2], D47[2]), D47[2]),
]
# After the export: 47 won. Newer than the export's state of 47, so it must win.
AFTER_EXPORT = [
    Change(
        "change",
        deal(
            47, D47[0], 7000, BEN, 12, "won", D47[2], "2026-11-12T03:00:00Z", "2026-11-12T03:00:00Z"
        ),
        "2026-11-12T03:00:00Z",
    )
]

# The truth, by hand (days in Asia/Shanghai): 41 won 11-05, 42 won 11-10, 43 won 11-06 for
# 2600, 44 won 11-07 (20:30) by Ben, 45 deleted, 46 lost by Ben, 47 won 11-12.
TRUE_REVENUE = {
    ("r-anna", "2026-11-05"): Decimal(4500),
    ("r-anna", "2026-11-06"): Decimal(2600),
    ("r-ben", "2026-11-07"): Decimal(5000),
    ("r-ben", "2026-11-10"): Decimal(3200),
    ("r-ben", "2026-11-12"): Decimal(7000),
}
TRUE_DEALS_WON = {("r-anna",): Decimal(2), ("r-ben",): Decimal(3)}
TRUE_WIN_RATE = {("r-anna",): Decimal(1), ("r-ben",): Decimal("0.75")}


async def deliver(stack: Stack, endpoint: str, changes: list[Change], *, everything: bool) -> int:
    """POST the webhooks of the changes (only the delivered ones unless ``everything``)."""
    sent = 0
    for seq, change in enumerate(changes):
        if not (change.delivered or everything):
            continue
        resp = await post_webhook(
            stack, "pipedrive", endpoint, change.body(seq), basic(USER, PASSWORD)
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["accepted"] == 1, resp.json()
        sent += 1
    return sent


async def import_export(stack: Stack) -> dict[str, Any]:
    """The export through ``POST /v1/imports`` with the documented mapping (201 required)."""
    body = {
        "name": IMPORT,
        "format": "csv",
        "mapping": recipe_mapping(),
        "content": fixture("pipedrive/export_deals.csv").decode(),
        "file_name": "pipedrive-deals.csv",
    }
    resp = await stack.client.post("/v1/imports", json=body, headers=stack.auth())
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def event_count(stack: Stack) -> int:
    """Events scoring stored (every source)."""
    async with stack.db.transaction(write=False) as session:
        return len((await session.execute(select(Event.id))).all())


async def deal_records(stack: Stack) -> dict[str, dict[str, Any]]:
    """Scoring's state per deal: {record id: current event}."""
    async with stack.db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(Record.record_id, Record.state).where(Record.type == "deal")
            )
        ).all()
    out = {}
    for record_id, state in rows:
        data = orjson.loads(state) if isinstance(state, str | bytes) else state
        out[record_id] = data["current"]
    return out


def test_the_export_fixture_names_its_documentation() -> None:
    assert "support.pipedrive.com" in fixture_source("pipedrive/export_deals.csv")


def test_a_value_standing_for_several_fields_names_only_canonical_ones() -> None:
    """``values.stage.Deleted = {"deleted": true}`` works; an unknown field is refused."""
    typo = ImportMapping.model_validate({"values": {"stage": {"Deleted": {"deletd": True}}}})
    with pytest.raises(InvalidInput) as refused:
        check_mapping(typo, default_tz="UTC")
    assert refused.value.fields == [
        FieldError("mapping.values.stage.Deleted.deletd", msg("imports.mapping.not_field"))
    ]
    tz = check_mapping(ImportMapping.model_validate(recipe_mapping()), default_tz="UTC")
    mapper = RowMapper(ImportMapping.model_validate(recipe_mapping()), tz=tz)
    data, problems = mapper.map(
        {"Deal - ID": "45", "Deal - Owner": "Ben Wu", "Deal - Status": "Deleted"}
    )
    assert (data, problems) == (
        {"entity_id": "45", "rep_id": "r-ben", "deleted": True, "type": "deal"},
        [],
    )


async def test_a_dropped_window_is_repaired_by_the_nightly_export(
    stack: Stack, tmp_path: Path
) -> None:
    s = stack
    endpoint = await pipedrive_connector(s)
    delivered = await deliver(s, endpoint, HISTORY, everything=False)
    assert delivered == 10
    await s.wait_scored()
    # What the webhooks alone give: 42's win, 43's correction, 44's new owner, 45's
    # deletion and deal 46 are missing.
    assert await facts(s, "revenue") == {
        ("r-anna", "2026-11-05"): Decimal(4500),
        ("r-anna", "2026-11-06"): Decimal(2000),
        ("r-anna", "2026-11-07"): Decimal(5000),
        ("r-ben", "2026-11-08"): Decimal(1500),
    }

    report = await import_export(s)
    assert report["source"] == f"import:{IMPORT}"
    assert report["status"] == "completed"
    assert (report["rows_total"], report["rows_accepted"], report["rows_rejected"]) == (7, 7, 0)
    assert report["warnings"] == []
    await s.wait_scored()
    after_import = await event_count(s)
    assert after_import == delivered + 7
    await deliver(s, endpoint, AFTER_EXPORT, everything=True)
    await s.wait_scored()

    assert await facts(s, "revenue") == TRUE_REVENUE
    assert await facts(s, "deals_won", "rep") == TRUE_DEALS_WON
    assert await facts(s, "win_rate", "rep") == TRUE_WIN_RATE
    assert await quarantine(s) == []

    # One record per deal whichever source sent it. Where the export held the state a
    # webhook had delivered (41), the webhook's event stays current: the export's equal
    # state at Pipedrive's whole second sorts below the webhook's meta.timestamp.
    records = await deal_records(s)
    assert sorted(records) == ["41", "42", "43", "44", "45", "46", "47"]
    assert records["41"]["event_id"].startswith("pd-deal-41-")
    for repaired in ("42", "43", "44", "45", "46"):
        assert records[repaired]["event_id"].startswith(f"deal:{repaired}#"), records[repaired]
    assert (records["44"]["rep_id"], records["45"]["deleted"]) == ("r-ben", True)
    assert records["47"]["stage"] == "won"  # the later webhook beat the export's "Open"
    imported = await stored_events(s, f"import:{IMPORT}")
    assert imported[records["42"]["event_id"]] == {
        "event_id": records["42"]["event_id"],
        "type": "deal",
        "occurred_at": "2026-11-10T14:10:00+08:00",
        "rep_id": "r-ben",
        "customer_id": "13",
        "entity_id": "42",
        "deleted": False,
        "amount": "3200",
        "currency": "CNY",
        "stage": "won",
        "closed_at": "2026-11-10T14:10:00+08:00",
        "attributes": {"title": "Beta renewal"},
    }

    # The same export again: nothing appended, nothing moves.
    before = await stored_facts(s.db)
    again = await import_export(s)
    assert (again["rows_total"], again["rows_accepted"], again["rows_unchanged"]) == (7, 0, 7)
    await s.wait_scored()
    assert await event_count(s) == after_import + 1
    assert await stored_facts(s.db) == before

    # The truth: a stack that received every webhook has exactly the same facts, row by
    # row (sums, counts, distinct members, CRM-active days).
    truth_settings = embedded_settings(tmp_path / "truth")
    async with running_stack("embedded", truth_settings) as truth:
        truth_endpoint = await pipedrive_connector(truth)
        await deliver(truth, truth_endpoint, [*HISTORY, *AFTER_EXPORT], everything=True)
        await truth.wait_scored()
        assert await facts(truth, "revenue") == TRUE_REVENUE
        assert await stored_facts(s.db) == await stored_facts(truth.db)


async def test_the_documented_cron_command_imports_nothing_twice(
    embedded_stack: Stack, tmp_path: Path
) -> None:
    """The ``paceline import`` line of the documented crontab, run as it stands."""
    s = embedded_stack
    endpoint = await pipedrive_connector(s)
    await deliver(s, endpoint, HISTORY, everything=False)
    await s.wait_scored()
    cron = recipe_block("pipedrive-nightly cron", "sh")
    line = next(ln for ln in cron.splitlines() if "paceline import" in ln)
    argv = shlex.split(line[line.index("paceline import") :])
    assert argv[:2] == ["paceline", "import"]
    csv_path, mapping_path = tmp_path / "pipedrive-deals.csv", tmp_path / "pipedrive-nightly.json"
    csv_path.write_bytes(fixture("pipedrive/export_deals.csv"))
    mapping_path.write_text(orjson.dumps(recipe_mapping()).decode(), encoding="utf-8")
    paths = {argv[2]: str(csv_path), argv[argv.index("--mapping") + 1]: str(mapping_path)}
    args = [paths.get(a, a) for a in argv[1:]] + ["--timeout", "60"]
    env = {"PACELINE_DATA_DIR": str(s.settings.data_dir), "PACELINE_EMBEDDED_PARTITIONS": "3"}

    def invoke() -> Any:
        return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)

    first = await asyncio.to_thread(invoke)
    assert first.exit_code == 0, first.output
    assert "completed; 7 rows: 7 appended, 0 already imported" in first.output.splitlines()[0]
    await s.wait_scored()
    assert await facts(s, "revenue") == {
        k: v for k, v in TRUE_REVENUE.items() if k != ("r-ben", "2026-11-12")
    }
    second = await asyncio.to_thread(invoke)
    assert second.exit_code == 0, second.output
    assert "completed; 7 rows: 0 appended, 7 already imported" in second.output.splitlines()[0]
