"""The KPI exporter: what ``GET /v1/progress`` answers now, as Prometheus gauges.

For the tenant's current period of each kind (fiscal year, quarter, month, ISO week, on
the tenant's calendar and time zone at the injected clock's now), every target whose
scope is the company or a team is evaluated by the progress service itself
(:func:`paceline.api.progress.service.progress`, ``as_of`` = now, everything known), so
a gauge always equals the ``actual``, ``target``, ``expected`` and ``pace`` the API
answers at the same instant. Reps are left out on purpose: the series stay bounded by
``(1 + teams) x KPIs x 4 period kinds`` and capped by ``kpi_exporter_max_targets``
(company targets first, then teams; by period kind, KPI and team id), the rest counted
in ``paceline_kpi_exporter_targets_dropped``.

Labels are stable identifiers only: ``tenant`` (id), ``scope`` (``company`` or
``team:<id>``), ``kpi`` (key) and ``period`` (the kind: ``year``, ``quarter``, ``month``,
``week``), so a series runs on from one month to the next; the current key of each kind
is in ``paceline_kpi_period_info`` and team names in ``paceline_kpi_team_info`` (join
them in PromQL with ``group_left``), so a renamed team does not start new series.

The text is made by ``prometheus_client`` from a registry of its own per request (one
custom collector), which escapes label values (``\\``, ``"``, newlines).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.kpi_metrics import repository as repo
from paceline.api.progress.service import progress as progress_of
from paceline.api.settings.service import kpi_exporter_on
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Target, Tenant
from paceline.shared.errors import NotFound
from paceline.shared.i18n import msg
from paceline.shared.kpi.periods import PeriodKind, parse_period, period_of
from paceline.shared.readmodel.org import team_names
from paceline.shared.readmodel.scopes import parse_scope

KINDS: Final[tuple[PeriodKind, ...]] = ("year", "quarter", "month", "week")
LABELS: Final = ("tenant", "scope", "kpi", "period")

# name -> help; paceline_kpi_<field> carries the ProgressOut field of that name
GAUGES: Final = {
    "paceline_kpi_actual": "The KPI so far in the current period (GET /v1/progress actual).",
    "paceline_kpi_target": "The target version in force now (GET /v1/progress target).",
    "paceline_kpi_expected": "Where the KPI should be by now (GET /v1/progress expected).",
    "paceline_kpi_pace": "actual / expected (expected / actual when lower is better): 1 or "
    "more is on or better than expected (GET /v1/progress pace).",
}


class KpiExporterOff(NotFound):
    """The tenant has not opted in to the KPI exporter."""

    code = "kpi_exporter_off"


@dataclass(frozen=True, slots=True)
class KpiSample:
    """One target's progress now."""

    scope: str
    kpi: str
    period: PeriodKind
    values: dict[str, Decimal]  # gauge name -> value (absent: no value, no series)


@dataclass(slots=True)
class Snapshot:
    """What one scrape of a tenant exports."""

    tenant: str
    periods: dict[str, str]  # kind -> current key
    samples: list[KpiSample] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)  # scope team:<id> -> team name
    dropped: int = 0


def require_enabled(tenant: Tenant) -> None:
    """404 ``kpi_exporter_off`` when off (its message in the caller's language: the error
    handler renders it, ``Accept-Language`` else the tenant's locale)."""
    if not kpi_exporter_on(tenant):
        raise KpiExporterOff(msg("settings.kpi_exporter_off"))


def _order(t: Target) -> tuple[int, int, str, str]:
    kind = KINDS.index(t.period_kind) if t.period_kind in KINDS else len(KINDS)
    return (0 if t.scope == "company" else 1, kind, t.kpi, t.scope)


async def snapshot(
    session: AsyncSession, *, tenant: Tenant, now: datetime, max_targets: int
) -> Snapshot:
    """The current periods' company and team progress of a tenant, at most ``max_targets``."""
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    fy = tenant.fiscal_year_start_month
    periods = {k: period_of(today, k, fiscal_year_start_month=fy) for k in KINDS}
    out = Snapshot(tenant=tenant.id, periods={k: p.key for k, p in periods.items()})
    targets = await repo.company_and_team_targets(
        session, tenant_id=tenant.id, periods=[p.key for p in periods.values()]
    )
    kpis = {
        k: await find_kpi(session, tenant_id=tenant.id, key=k) for k in {t.kpi for t in targets}
    }
    # A retired custom KPI's targets stay, but GET /v1/progress answers 404 for it: no series.
    usable = sorted(
        ((t, kpi) for t in targets if (kpi := kpis[t.kpi]) is not None),
        key=lambda pair: _order(pair[0]),
    )
    out.dropped = max(0, len(usable) - max_targets)
    kept = usable[:max_targets]
    for t, kpi in kept:
        period = parse_period(t.period, fiscal_year_start_month=fy)
        p = await progress_of(
            session,
            tenant=tenant,
            kpi=kpi,
            scope=parse_scope(t.scope),
            period=period,
            as_of=now,
        )
        values = {
            "paceline_kpi_actual": p.actual,
            "paceline_kpi_target": p.target,
            "paceline_kpi_expected": p.expected,
            "paceline_kpi_pace": p.pace,
        }
        out.samples.append(
            KpiSample(
                scope=t.scope,
                kpi=t.kpi,
                period=period.kind,
                values={k: v for k, v in values.items() if v is not None},
            )
        )
    team_ids = sorted({t.scope.removeprefix("team:") for t, _ in kept if t.scope != "company"})
    names = await team_names(session, tenant_id=tenant.id, team_ids=team_ids)
    out.teams = {f"team:{tid}": name for tid, name in names.items()}
    return out


class _SnapshotCollector(Collector):
    """Yields a snapshot's metric families (for a registry of one scrape)."""

    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def collect(self) -> Iterator[Metric]:
        s = self._snap
        for name, help_text in GAUGES.items():
            family = GaugeMetricFamily(name, help_text, labels=LABELS)
            for sample in s.samples:
                if name in sample.values:
                    family.add_metric(
                        [s.tenant, sample.scope, sample.kpi, sample.period],
                        float(sample.values[name]),
                    )
            yield family
        periods = GaugeMetricFamily(
            "paceline_kpi_period_info",
            "The current period key of each kind on the tenant's calendar (always 1).",
            labels=("tenant", "period", "key"),
        )
        for kind, key in s.periods.items():
            periods.add_metric([s.tenant, kind, key], 1)
        yield periods
        teams = GaugeMetricFamily(
            "paceline_kpi_team_info",
            "The name of each exported team scope (always 1).",
            labels=("tenant", "scope", "team"),
        )
        for scope, name in sorted(s.teams.items()):
            teams.add_metric([s.tenant, scope, name], 1)
        yield teams
        exported = GaugeMetricFamily(
            "paceline_kpi_exporter_targets",
            "Company and team targets of the current periods exported.",
            labels=("tenant",),
        )
        exported.add_metric([s.tenant], len(s.samples))
        yield exported
        dropped = GaugeMetricFamily(
            "paceline_kpi_exporter_targets_dropped",
            "Targets left out because the tenant has more than kpi_exporter_max_targets.",
            labels=("tenant",),
        )
        dropped.add_metric([s.tenant], s.dropped)
        yield dropped


def render(snap: Snapshot) -> bytes:
    """The snapshot in the Prometheus text exposition format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snap))
    return generate_latest(registry)
