"""``paceline tenants create|list`` and ``paceline keys create|list|rotate|revoke``: the
operator's commands, against the same database a running stack then serves."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner, Result

from paceline.cli.main import main
from tests.support import embedded_settings, running_stack


def cli(data_dir: Path, *args: str) -> Result:
    """Run ``paceline`` with this data directory (standard error kept apart)."""
    return CliRunner().invoke(main, list(args), env={"PACELINE_DATA_DIR": str(data_dir)})


async def acli(data_dir: Path, *args: str) -> Result:
    """``cli`` off the event loop (the command runs its own)."""
    return await asyncio.to_thread(cli, data_dir, *args)


async def test_tenants_and_keys_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = await acli(data, "tenants", "create", "acme", "--name", "Acme", "--timezone", "UTC")
    assert made.exit_code == 0, made.output
    assert "created tenant acme (Acme, UTC, CNY)" in made.stdout
    again = await acli(data, "tenants", "create", "acme")
    assert again.exit_code != 0
    assert "exists already" in again.output
    bad = await acli(data, "tenants", "create", "Bad Id")
    assert bad.exit_code != 0
    assert "id" in bad.output

    admin = await acli(
        data, "keys", "create", "--tenant", "acme", "--scope", "admin", "--name", "ops"
    )
    assert admin.exit_code == 0, admin.output
    admin_key = admin.stdout.strip()
    assert admin_key.startswith("pl_")
    reader = await acli(data, "keys", "create", "--tenant", "acme", "--scope", "read")
    reader_key = reader.stdout.strip()
    operator = await acli(data, "keys", "create", "--scope", "platform", "--name", "root")
    operator_key = operator.stdout.strip()
    refused = await acli(data, "keys", "create", "--scope", "platform", "--tenant", "acme")
    assert refused.exit_code != 0
    assert "leave out --tenant" in refused.output

    listed = await acli(data, "keys", "list", "--tenant", "acme")
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 2
    assert admin_key not in listed.stdout
    reader_id = next(line.split("\t")[0] for line in lines if "\tread\t" in line)
    assert "\tactive\t" in lines[0]
    tenants = await acli(data, "tenants", "list")
    assert tenants.stdout.splitlines()[0].startswith("acme\tAcme\tUTC\tCNY\tkeys=2")
    platform = await acli(data, "keys", "list", "--platform")
    assert "\troot\tplatform\t" in platform.stdout

    rotated = await acli(data, "keys", "rotate", reader_id, "--grace-hours", "0")
    assert rotated.exit_code == 0, rotated.output
    new_reader = rotated.stdout.strip()
    assert new_reader.startswith("pl_")
    assert new_reader != reader_key

    # The stack serves what the commands made.
    settings = embedded_settings(data)
    async with running_stack("embedded", settings) as stack:
        org = await stack.client.get("/v1/org", headers=stack.auth(admin_key))
        assert org.status_code == 200, org.text
        assert (
            await stack.client.get("/v1/org", headers=stack.auth(reader_key))
        ).status_code == 401
        assert (
            await stack.client.get("/v1/org", headers=stack.auth(new_reader))
        ).status_code == 200
        tenants_resp = await stack.client.get("/v1/tenants", headers=stack.auth(operator_key))
        assert "acme" in [t["id"] for t in tenants_resp.json()["items"]]
        log = await stack.client.get("/v1/audit", headers=stack.auth(admin_key))
        entries = [(e["action"], e["actor"]) for e in log.json()["items"]]
        assert entries[-1] == ("tenants.create", "cli")
        assert ("keys.rotate", "cli") in entries
        assert {actor for _, actor in entries} == {"cli"}

    admin_id = next(
        line.split("\t")[0]
        for line in (await acli(data, "keys", "list", "--tenant", "acme")).stdout.splitlines()
        if "\tops\t" in line
    )
    revoked = await acli(data, "keys", "revoke", admin_id)
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked {admin_id}" in revoked.stdout
    async with running_stack("embedded", settings) as stack:
        assert (await stack.client.get("/v1/org", headers=stack.auth(admin_key))).status_code == 401
    unknown = await acli(data, "keys", "revoke", "nope")
    assert unknown.exit_code != 0
    assert "no API key" in unknown.output
