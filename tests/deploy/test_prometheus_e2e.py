"""A real Prometheus scrapes a real ``paceline serve`` with the example configuration.

``paceline serve`` runs on a free port with its day pinned (``--today``); Prometheus
(Debian's, deploy/prometheus/prometheus.sh) runs on another with
deploy/prometheus/prometheus.yml pointed at it: the service job on ``/metrics``, the KPI
job on ``/v1/metrics/kpis`` with a read key sent as a Bearer credential (from a file, as in
the example), and a second KPI job with a wrong key. Then, through Prometheus's query API:

- both good jobs are up and the wrong key's job is down (the exporter answers 401);
- the KPI gauges Prometheus stored equal ``GET /v1/progress`` for the company and a team;
- every dashboard query, with its variables filled in, runs without error; the KPI ones
  (the team-name join of the table included) return series;
- every rule of deploy/prometheus/paceline-rules.yml is loaded and evaluated (health ok).

Both servers bind 127.0.0.1 and are stopped at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.test_deploy import DASHBOARD, RULES, SCRAPE, VARIABLE, panels
from tests.infra import free_ports

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TODAY = "2026-11-26T10:00:00+08:00"
ADMIN_KEY = "pl_e2e_admin_key_for_prometheus_tests_0123456789"
START_TIMEOUT_S = 90.0
# The dashboard's variables as a person would pick them.
CHOSEN = {
    "tenant": "default",
    "period": "month",
    "scope": ".*",
    "kpi": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
}


def _tool(name: str) -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "deploy/prometheus/prometheus.sh"), name],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        message = f"{name} is missing: bash deploy/prometheus/prometheus.sh install"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return out.stdout.strip().splitlines()[-1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait(what: str, check: Any, process: subprocess.Popen[bytes], log: Path) -> Any:
    """Poll ``check()`` until it returns something truthy (its value), for a while."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"{what}: the process exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            value = check()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not in {START_TIMEOUT_S} s; see {log}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """paceline serve (a team, targets, deals, the exporter on) and Prometheus scraping it."""
    prometheus = _tool("server")
    work = tmp_path_factory.mktemp("prometheus-e2e")
    app_port, prom_port = free_ports(2)
    env = os.environ | {"PACELINE_RATE_LIMIT_PER_S": "0", "PACELINE_ENVIRONMENT": "development"}
    for name in ("PACELINE_DATABASE_URL", "PACELINE_KAFKA_BOOTSTRAP"):
        env.pop(name, None)
    app_log = work / "paceline.log"
    command = [
        sys.executable, "-m", "paceline.cli.main", "serve", "--port", str(app_port),
        "--data-dir", str(work / "data"), "--api-key", ADMIN_KEY, "--today", TODAY,
    ]  # fmt: skip
    with app_log.open("wb") as out:
        app = subprocess.Popen(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    prom: subprocess.Popen[bytes] | None = None
    clients: list[httpx.Client] = []
    try:
        base = f"http://127.0.0.1:{app_port}"
        api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
        )
        clients.append(api)
        _wait("paceline ready", lambda: api.get("/readyz").status_code == 200, app, app_log)
        _seed(api)
        read_key = api.post("/v1/keys", json={"name": "prometheus", "scopes": ["read"]})
        assert read_key.status_code == 201, read_key.text
        (work / "read-key").write_text(read_key.json()["key"])
        (work / "wrong-key").write_text("pl_not_a_key_of_anyone")
        # The example configuration, pointed at this server, scraping every second.
        config = yaml.safe_load(SCRAPE.read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        jobs = config["scrape_configs"]
        for job in jobs:
            job["static_configs"] = [{"targets": [f"127.0.0.1:{app_port}"]}]
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
        kpis = next(j for j in jobs if j["metrics_path"] == "/v1/metrics/kpis")
        kpis["job_name"] = "paceline-kpis-default"
        kpis["authorization"]["credentials_file"] = str(work / "read-key")
        wrong = json.loads(json.dumps(kpis))
        wrong["job_name"] = "paceline-kpis-wrongkey"
        wrong["authorization"]["credentials_file"] = str(work / "wrong-key")
        jobs.append(wrong)
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        shutil.copy(RULES, work / RULES.name)
        prom_log = work / "prometheus.log"
        with prom_log.open("wb") as out:
            prom = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        query = httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", timeout=30)
        clients.append(query)
        _wait("prometheus ready", lambda: query.get("/-/ready").status_code == 200, prom, prom_log)

        def scraped() -> bool:
            got = _query(query, 'up{job=~"paceline.*"}')
            return len(got) == 3 and bool(_query(query, "paceline_kpi_pace"))

        _wait("the first scrapes", scraped, prom, prom_log)
        yield {"api": api, "query": query, "prom": prom, "prom_log": prom_log}
    finally:
        for client in clients:
            client.close()
        if prom is not None:
            _stop(prom)
        _stop(app)


def _seed(api: httpx.Client) -> None:
    org = {
        "teams": [{"id": "north", "name": "North"}, {"id": "south", "name": "South"}],
        "reps": [
            {"id": "r1", "name": "R1", "team_id": "north", "role": "ae"},
            {"id": "r2", "name": "R2", "team_id": "south", "role": "ae"},
        ],
        "effective_from": "2026-01-01",
    }
    assert api.put("/v1/org", json=org).status_code == 200
    for scope, target in (("company", "9000"), ("team:north", "4000"), ("team:south", "5000")):
        body = {"kpi": "revenue", "scope": scope, "period": "2026-11", "target": target}
        resp = api.post("/v1/targets", json=body)
        assert resp.status_code == 201, resp.text
    events = [
        {
            "event_id": f"d{i}",
            "type": "deal",
            "entity_id": f"d{i}",
            "occurred_at": f"2026-11-{day}T09:00:00+08:00",
            "rep_id": rep,
            "stage": "won",
            "amount": amount,
        }
        for i, (rep, day, amount) in enumerate(
            [("r1", "03", "1500"), ("r2", "10", "2500.25"), ("r1", "24", "800")]
        )
    ]
    assert api.post("/v1/events", json=events).status_code == 202
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        resp = api.get("/v1/progress", params={"kpi": "revenue", "period": "2026-11"})
        if resp.json()["actual"] == "4800.2500":
            break
        assert time.monotonic() < deadline, resp.text
        time.sleep(0.2)
    resp = api.put("/v1/settings", json={"kpi_exporter": True})
    assert resp.status_code == 200, resp.text


def _fill(expr: str) -> str:
    """A dashboard query with its variables as CHOSEN."""
    return VARIABLE.sub(lambda m: CHOSEN[m.group(1) or m.group(2) or m.group(3)], expr)


def _query(client: httpx.Client, expr: str) -> list[dict[str, Any]]:
    resp = client.get("/api/v1/query", params={"query": expr})
    body = resp.json()
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_jobs_are_up_with_the_read_key_and_down_with_a_wrong_one(servers: dict[str, Any]) -> None:
    up = {
        r["metric"]["job"]: r["value"][1] for r in _query(servers["query"], 'up{job=~"paceline.*"}')
    }
    assert up == {"paceline": "1", "paceline-kpis-default": "1", "paceline-kpis-wrongkey": "0"}


def test_stored_gauges_equal_progress(servers: dict[str, Any]) -> None:
    api, query = servers["api"], servers["query"]
    for scope in ("company", "team:north", "team:south"):
        progress = api.get(
            "/v1/progress", params={"kpi": "revenue", "scope": scope, "period": "2026-11"}
        ).json()
        for gauge in ("actual", "target", "expected", "pace"):
            selector = (
                f'paceline_kpi_{gauge}{{tenant="default", scope="{scope}", kpi="revenue", '
                'period="month", job="paceline-kpis-default"}'
            )
            [sample] = _query(query, selector)
            assert Decimal(sample["value"][1]) == Decimal(progress[gauge]), (scope, gauge)
    assert Decimal(progress["target"]) == 5000


def test_every_dashboard_query_runs(servers: dict[str, Any]) -> None:
    query = servers["query"]
    dash = json.loads(DASHBOARD.read_text())
    empty_kpi_panels = []
    ran = 0
    for panel in panels(dash):
        for target in panel.get("targets", []):
            expr = _fill(target["expr"])
            result = _query(query, expr)
            ran += 1
            if "paceline_kpi_" in expr and not result:
                empty_kpi_panels.append((panel["title"], target["refId"], expr))
    assert ran > 20
    assert empty_kpi_panels == []
    # The table's team-name join gives each team its name and keeps the company.
    table = next(p for p in panels(dash) if p["type"] == "table")
    expr = _fill(table["targets"][0]["expr"])
    rows = {
        r["metric"]["scope"]: r["metric"].get("team")
        for r in _query(query, expr)
        if r["metric"].get("job") == "paceline-kpis-default"
    }
    assert rows == {"company": None, "team:north": "North", "team:south": "South"}


def test_every_rule_is_loaded_and_evaluates(servers: dict[str, Any]) -> None:
    query = servers["query"]
    names = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        groups = query.get("/api/v1/rules").json()["data"]["groups"]
        health = {rule["name"]: rule["health"] for g in groups for rule in g["rules"]}
        if set(health) == names and all(h != "unknown" for h in health.values()):
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.5)
    assert {name: h for name, h in health.items() if h != "ok"} == {}
    # The wrong key's job is down: its alert is pending (it fires after 5 minutes) once a
    # rule evaluation has followed that job's first failed scrape.
    while True:
        alerts = query.get("/api/v1/alerts").json()["data"]["alerts"]
        pending = {(a["labels"]["alertname"], a["labels"].get("job")) for a in alerts}
        if ("PacelineKpiExporterDown", "paceline-kpis-wrongkey") in pending:
            break
        assert time.monotonic() < deadline, pending
        time.sleep(0.5)
    assert not [a for a in alerts if a["labels"].get("job") == "paceline-kpis-default"]
    assert re.search(r"Server is ready to receive web requests", servers["prom_log"].read_text())
