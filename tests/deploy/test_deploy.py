"""deploy/prometheus and deploy/grafana hold what they claim (issue 18, item 3).

- The alerting rules pass ``promtool check rules`` and their unit tests
  (``promtool test rules tests/deploy/paceline-rules.test.yml``, on promtool's own clock),
  in which every alert fires at least once; the scrape example passes ``promtool check
  config``. promtool is Debian's (deploy/prometheus/prometheus.sh, run by ``make services``).
- The Grafana dashboard validates against a JSON schema written from Grafana's documented
  dashboard model (tests/deploy/grafana-dashboard.schema.json), with unique panel ids,
  refIds per panel, panels inside the 24-column grid and not overlapping, and every
  ``$variable`` it uses defined.
- Every query of the dashboard (its variables included) parses as PromQL, with
  promql-parser and with promtool (as recording rules).
- Every metric name in the rules and the dashboard exists on the real pages of a running
  stack (``GET /metrics`` and ``GET /v1/metrics/kpis``) or is one Prometheus makes itself
  (``up``, ``scrape_duration_seconds``), and every label a selector matches on is one of
  that metric's labels (or a target label); both pages pass ``promtool check metrics``.
- The provisioning examples point Grafana at the dashboard folder and a Prometheus source.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from paceline.shared import metrics as service_metrics
from paceline.shared.clock import FixedClock
from tests.support import Stack

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/paceline-rules.yml"
RULE_TESTS = ROOT / "tests/deploy/paceline-rules.test.yml"
SCRAPE = ROOT / "deploy/prometheus/prometheus.yml"
DASHBOARD = ROOT / "deploy/grafana/dashboards/paceline.json"
SCHEMA = ROOT / "tests/deploy/grafana-dashboard.schema.json"
PROVISIONING = ROOT / "deploy/grafana/provisioning"

TODAY = datetime.fromisoformat("2026-11-26T10:00:00+08:00")

# Series Prometheus makes for every scrape target, and the labels it adds to every series.
SYNTHETIC = {"up": set(), "scrape_duration_seconds": set()}
TARGET_LABELS = {"job", "instance"}
# What Grafana's built-in variables stand for when a query is parsed outside Grafana.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


@pytest.fixture
def stack_clock() -> FixedClock:
    """The stack of these tests runs on a fixed clock (tests/conftest.py)."""
    return FixedClock(TODAY)


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool's path; missing: a failure in CI, else a skip that says how to get it."""
    out = subprocess.run(
        ["bash", str(ROOT / "deploy/prometheus/prometheus.sh"), "promtool"],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        message = "promtool is missing: bash deploy/prometheus/prometheus.sh install"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return out.stdout.strip().splitlines()[-1]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    """Run promtool; fail with its output unless it exits 0."""
    out = subprocess.run(
        args, input=stdin, capture_output=True, text=True, check=False, cwd=cwd, timeout=120
    )
    assert out.returncode == 0, f"{' '.join(args)}: {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


# -- what the files say ----------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    """Every rule of the rules file."""
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    """The dashboard JSON."""
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in dash["panels"]:
        yield panel
        yield from panel.get("panels", [])


def variables(dash: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard's template variables by name."""
    return {v["name"]: v for v in dash["templating"]["list"]}


LABEL_VALUES = re.compile(
    r"^label_values\((?P<selector>.+),\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\)$"
)
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def as_promql(expr: str) -> str:
    """A Grafana query with its variables replaced by plain values, as PromQL."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return GRAFANA_BUILTINS.get(name, "x")

    return VARIABLE.sub(value, expr)


def dashboard_queries(dash: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable's selector."""
    out = []
    for panel in panels(dash):
        for target in panel.get("targets", []):
            out.append((f"panel {panel['id']} {target['refId']}", as_promql(target["expr"])))
    for name, var in variables(dash).items():
        if var["type"] == "query":
            m = LABEL_VALUES.match(var["query"])
            assert m, f"variable {name}: {var['query']!r} is not label_values(selector, label)"
            out.append((f"variable {name}", as_promql(m["selector"])))
    return out


def rule_queries() -> list[tuple[str, str]]:
    """(alert, PromQL) of every rule."""
    return [(rule.get("alert") or rule["record"], rule["expr"]) for rule in rules()]


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) of every selector of a PromQL expression."""
    found: list[tuple[str, set[str]]] = []

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names = {m.name for m in node.matchers.matchers}
            name = node.name
            if name is None:  # {__name__="..."}
                name = next(m.value for m in node.matchers.matchers if m.name == "__name__")
            found.append((name, names - {"__name__"}))
            return
        if isinstance(node, promql_parser.MatrixSelector):
            walk(node.vector_selector)
            return
        for attr in ("expr", "lhs", "rhs", "param"):
            child = getattr(node, attr, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)
        for arg in getattr(node, "args", None) or []:
            walk(arg)

    walk(promql_parser.parse(expr))
    return found


# -- promtool: rules, their unit tests, the scrape example ------------------------------------


def test_rules_pass_promtool_check(promtool: str) -> None:
    output = run(promtool, "check", "rules", str(RULES))
    assert f"SUCCESS: {len(rules())} rules found" in output


def test_rules_unit_tests_pass_and_fire_every_alert(promtool: str) -> None:
    output = run(promtool, "test", "rules", str(RULE_TESTS))
    assert "SUCCESS" in output
    doc = yaml.safe_load(RULE_TESTS.read_text())
    fired = {
        case["alertname"]
        for test in doc["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    quiet = {
        case["alertname"]
        for test in doc["tests"]
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - fired == set(), "alerts no unit test makes fire"
    assert alerts - quiet == set(), "alerts no unit test keeps quiet"
    assert fired | quiet <= alerts, "unit tests of alerts that do not exist"


def test_rules_have_severity_and_words(promtool: str) -> None:
    del promtool  # the same file; checked here for what promtool does not require
    for rule in rules():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_scrape_example_passes_promtool_check_config(promtool: str, tmp_path: Path) -> None:
    config = yaml.safe_load(SCRAPE.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    kpis = jobs["paceline-kpis-acme"]
    assert kpis["metrics_path"] == "/v1/metrics/kpis"
    assert kpis["authorization"]["type"] == "Bearer"
    assert jobs["paceline"]["metrics_path"] == "/metrics"
    # The key file of the example lives in /etc/prometheus; promtool wants it to exist.
    (tmp_path / "key").write_text("pl_example")
    kpis["authorization"]["credentials_file"] = str(tmp_path / "key")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(RULES, tmp_path / RULES.name)
    output = run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS" in output
    assert f"SUCCESS: {len(rules())} rules found" in output


# -- the dashboard ---------------------------------------------------------------------------


def test_dashboard_matches_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = [
        f"{e.json_path}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(dashboard())
    ]
    assert errors == []


def test_the_schema_refuses_what_grafana_would_not_show() -> None:
    """The schema can fail: a panel off the grid, a target without refId, an unknown type."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for breakage in (
        lambda d: d["panels"][1]["gridPos"].update(w=25),
        lambda d: d["panels"][1]["targets"][0].pop("refId"),
        lambda d: d["panels"][1].update(type="graphh"),
        lambda d: d["templating"]["list"][1].update(query="up"),
        lambda d: d.update(schemaVerison=39),
    ):
        broken = dashboard()
        breakage(broken)
        assert list(validator.iter_errors(broken)), breakage


def test_dashboard_layout_ids_and_variables() -> None:
    dash = dashboard()
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], int] = {}
    for panel in panels(dash):
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["id"]
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["id"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"panels {cells.get((x, y))} and {panel['id']} overlap"
                cells[(x, y)] = panel["id"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    defined = set(variables(dash)) | set(GRAFANA_BUILTINS)
    text = json.dumps(dash)
    used = {next(g for g in m.groups() if g) for m in VARIABLE.finditer(text)}
    assert used - defined == set()
    assert {"datasource", "tenant", "scope", "kpi", "period"} <= set(variables(dash))


def test_dashboard_queries_parse_as_promql(promtool: str, tmp_path: Path) -> None:
    queries = dashboard_queries(dashboard())
    assert len(queries) > 20
    for where, expr in queries:
        try:
            promql_parser.parse(expr)
        except Exception as exc:  # the parser raises a plain ValueError-like error
            pytest.fail(f"{where}: {expr!r}: {exc}")
    # Prometheus's own parser too: the queries as recording rules.
    recording = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_where, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(recording))
    assert f"SUCCESS: {len(queries)} rules found" in run(promtool, "check", "rules", str(path))


def test_provisioning_examples() -> None:
    source = yaml.safe_load((PROVISIONING / "datasources/paceline.yml").read_text())
    assert source["apiVersion"] == 1
    [prometheus] = source["datasources"]
    assert (prometheus["type"], prometheus["access"]) == ("prometheus", "proxy")
    boards = yaml.safe_load((PROVISIONING / "dashboards/paceline.yml").read_text())
    assert boards["apiVersion"] == 1
    [provider] = boards["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")


# -- metric names against the real pages ------------------------------------------------------


def _service_labels() -> dict[str, set[str]]:
    """family name -> label names of every metric of shared/metrics.py (labelled metrics
    with no child yet show no sample on the page, so the labels come from the objects)."""
    out = {}
    for value in vars(service_metrics).values():
        if isinstance(value, MetricWrapperBase):
            family = value.describe()[0]
            out[family.name] = set(value._labelnames)  # the declared label names
    return out


def known_series(pages: list[str]) -> dict[str, set[str]]:
    """Sample name -> label names, for every family on the pages (with no sample too)."""
    declared = _service_labels()
    out: dict[str, set[str]] = {name: set(labels) for name, labels in SYNTHETIC.items()}
    for page in pages:
        for family in text_string_to_metric_families(page):
            labels = set(declared.get(family.name, set()))
            for sample in family.samples:
                labels |= set(sample.labels)
            if family.type == "counter":
                names = {f"{family.name}_total": labels}
            elif family.type == "histogram":
                names = {
                    f"{family.name}_bucket": labels | {"le"},
                    f"{family.name}_sum": labels,
                    f"{family.name}_count": labels,
                }
            else:
                names = {family.name: labels}
            for name, with_labels in names.items():
                out.setdefault(name, set()).update(with_labels)
    return out


async def _exporter_page(stack: Stack) -> str:
    org = {"teams": [{"id": "north", "name": "North"}], "reps": []}
    resp = await stack.client.put("/v1/org", json=org, headers=stack.auth())
    assert resp.status_code == 200, resp.text
    for scope in ("company", "team:north"):
        body = {"kpi": "revenue", "scope": scope, "period": "2026-11", "target": "1000"}
        resp = await stack.client.post("/v1/targets", json=body, headers=stack.auth())
        assert resp.status_code == 201, resp.text
    resp = await stack.client.put("/v1/settings", json={"kpi_exporter": True}, headers=stack.auth())
    assert resp.status_code == 200, resp.text
    page = await stack.client.get("/v1/metrics/kpis", headers=stack.auth())
    assert page.status_code == 200, page.text
    return page.text


@pytest.mark.dates
async def test_every_metric_of_the_rules_and_dashboard_exists(
    embedded_stack: Stack, promtool: str
) -> None:
    kpis = await _exporter_page(embedded_stack)
    service = (await embedded_stack.client.get("/metrics")).text
    known = known_series([service, kpis])
    assert "paceline_kpi_pace" in known
    assert "paceline_consumer_lag_records" in known
    used: dict[str, set[str]] = {}
    problems = []
    for where, expr in rule_queries() + dashboard_queries(dashboard()):
        for name, labels in selectors(expr):
            used.setdefault(name, set()).update(labels)
            if name not in known:
                problems.append(f"{where}: no metric {name}")
            elif labels - known[name] - TARGET_LABELS:
                problems.append(f"{where}: {name} has no label {labels - known[name]}")
    assert problems == []
    # What the rules and the dashboard are for: ingest errors, lag, dead letters, the
    # exporter, freshness; every KPI gauge on the dashboard.
    assert {
        "paceline_ingest_log_unavailable_total",
        "paceline_ingest_events_total",
        "paceline_consumer_lag_records",
        "paceline_alert_deliveries_total",
        "paceline_scoring_freshness_seconds_bucket",
        "paceline_kpi_exporter_targets_dropped",
        "up",
    } <= set(used)
    exported = {f.name for f in text_string_to_metric_families(kpis)}
    assert exported <= set(used), exported - set(used)
    # Both pages pass Prometheus's own linter.
    for page in (service, kpis):
        run(promtool, "check", "metrics", stdin=page)
