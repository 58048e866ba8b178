"""A service process loads the code of the services it runs, not the others'.

``paceline scoring`` and ``paceline ingest`` build their app with ``build_app(parts=...)``;
the API's routers (OIDC, reviews, exports, dashboards) are imported only where they are
served. Checked in a fresh interpreter per service, since this test process has imported
everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from paceline.cli.stack import build_app
from paceline.shared.settings import Settings
app = build_app(Settings(environment="test"), parts={sys.argv[1]})
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("paceline.")),
    "paths": sorted(app.openapi()["paths"]),
}))
"""


def loaded(part: str) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, part],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("part", "serves", "not_loaded"),
    [
        ("scoring", [], ["paceline.api.app", "paceline.ingest.app"]),
        ("ingest", ["/v1/events"], ["paceline.api.app"]),
        ("api", ["/v1/targets"], ["paceline.ingest.app"]),
    ],
)
def test_a_service_loads_only_its_own_routers(
    part: str, serves: list[str], not_loaded: list[str]
) -> None:
    got = loaded(part)
    for module in not_loaded:
        assert module not in got["modules"], f"{part} imports {module}"
    for path in serves:
        assert path in got["paths"], f"{part} does not serve {path}"
    assert "/v1/events" not in got["paths"] or part == "ingest"
    assert "/healthz" in got["paths"]
