"""``make run PORT=... HOST=...`` passes them to ``paceline serve --demo`` (Makefile).

``make -n`` prints the command without running it; ``-o`` keeps make from reinstalling the
virtualenv first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make_run(*variables: str, env: dict[str, str] | None = None) -> str:
    """The command ``make run`` would run."""
    assert MAKE is not None
    done = subprocess.run(
        [MAKE, "--no-print-directory", "-n", "-o", ".venv/.installed", "run", *variables],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("PORT", "HOST")} | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("variables", "command"),
    [
        ((), ".venv/bin/paceline serve --demo"),
        (("PORT=8010",), ".venv/bin/paceline serve --demo --port 8010"),
        (("HOST=0.0.0.0",), ".venv/bin/paceline serve --demo --host 0.0.0.0"),
        (("PORT=8010", "HOST=::1"), ".venv/bin/paceline serve --demo --port 8010 --host ::1"),
    ],
)
def test_make_run_passes_port_and_host(variables: tuple[str, ...], command: str) -> None:
    assert make_run(*variables) == command


def test_a_shells_own_host_and_port_do_not_move_the_server() -> None:
    # zsh sets HOST to the machine's name; some platforms export PORT for other programs.
    assert make_run(env={"HOST": "laptop.local", "PORT": "3000"}) == (
        ".venv/bin/paceline serve --demo"
    )
