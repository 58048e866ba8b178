"""``paceline tenants create|list`` and ``paceline keys create|list|rotate|revoke``: the
operator's commands, against the same database a running stack then serves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
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


# -- no database: the commands that need one refuse and leave nothing behind ---------------


def _tree(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def _no_settings() -> dict[str, str | None]:
    """For CliRunner: the caller's PACELINE_* variables unset."""
    return {k: None for k in os.environ if k.startswith("PACELINE_")}


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "list"],
        ["keys", "list", "--platform"],
        ["tenants", "list"],
        ["keys", "revoke", "k-1"],
        ["keys", "rotate", "k-1"],
    ],
)
def test_commands_that_need_a_database_refuse_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(main, args, env=_no_settings())  # ./var, the default data dir
    assert done.exit_code == 1
    expected = tmp_path.resolve() / "var" / "paceline.db"
    assert done.stderr == (
        f"Error: no Paceline database at {expected}; run paceline serve or paceline migrate "
        "first, or pass --data-dir\n"
    )
    assert done.stdout == ""
    assert _tree(tmp_path) == []


def test_keys_list_outside_a_data_directory_creates_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACELINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "paceline.cli.main", "keys", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("Error: no Paceline database at ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert _tree(tmp_path) == []


def test_data_dir_option_points_the_commands_at_a_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    runner = CliRunner(env=_no_settings())
    missing = runner.invoke(main, ["keys", "list", "--data-dir", str(data)])
    assert missing.exit_code == 1
    assert f"no Paceline database at {data.resolve() / 'paceline.db'}" in missing.stderr
    assert not data.exists()
    made = runner.invoke(main, ["keys", "create", "--scope", "read", "--data-dir", str(data)])
    assert made.exit_code == 0, made.output  # create makes the database
    listed = runner.invoke(main, ["keys", "list", "--data-dir", str(data)])
    assert listed.exit_code == 0, listed.output
    assert "\tcli\tread\tactive\t" in listed.stdout
