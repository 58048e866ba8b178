"""A tenant's alert tunables (``tenants.options["alerts"]``): read by scoring, set by the api."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paceline.shared.db.models import Tenant

Hour = Annotated[int, Field(ge=0, le=23)]


class AlertOptions(BaseModel):
    """When and how alerts are raised for a tenant (every field has a default)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "min_elapsed_share": 0.2,
                    "lag_min_expected": 5.0,
                    "lag_noise_z": 1.0,
                    "lag_confirmations": 2,
                    "lag_every_minutes": 60,
                    "anomaly_kpis": ["visits", "new_opportunities", "quotes"],
                    "anomaly_alpha": 0.001,
                    "anomaly_persistence": 2,
                    "anomaly_min_expected": 5.0,
                    "anomaly_window_days": 30,
                    "anomaly_hour": 6,
                    "anomaly_lookback_days": 20,
                    "silent_min_days": 3,
                    "silent_alpha": 0.01,
                    "complaint_window_days": 3,
                    "complaint_min": 3,
                    "surge_last_days": 3,
                    "surge_min_deals": 3,
                    "burst_count": 8,
                    "burst_minutes": 5,
                    "duplicate_visits": 2,
                    "backdated_days": 7,
                    "future_minutes": 60,
                    "stale_source_hours": 4.0,
                    "work_start_hour": 9,
                    "work_end_hour": 18,
                    "pipeline_lag_records": 10000,
                    "digest_weekday": 1,
                    "digest_hour": 9,
                    "month_end_hour": 17,
                }
            ]
        },
        extra="forbid",
    )

    # Lag warnings.
    min_elapsed_share: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.2, description="No lag warning before this share of the period's working days."
    )
    lag_min_expected: Annotated[float, Field(ge=0)] = Field(
        default=5.0,
        description="No lag warning on a count KPI while its expected-to-date is below this.",
    )
    lag_noise_z: Annotated[float, Field(ge=0, le=5)] = Field(
        default=1.0,
        description="A count KPI is judged on track while its shortfall is within this many "
        "counting-noise deviations (the square root of the expected-to-date).",
    )
    lag_confirmations: Annotated[int, Field(ge=1, le=10)] = Field(
        default=2,
        description="Evaluations in a row (in distinct schedule slots) a new status needs "
        "before a warning is raised, escalated or resolved.",
    )
    lag_every_minutes: Annotated[int, Field(ge=5, le=1440)] = Field(
        default=60, description="Schedule slot of the time-driven lag evaluation."
    )
    # Anomalies.
    anomaly_kpis: list[str] = Field(
        default_factory=lambda: ["visits", "new_opportunities", "quotes"],
        description="Count KPIs judged per rep on daily series.",
    )
    anomaly_alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.001
    anomaly_persistence: Annotated[int, Field(ge=1, le=10)] = 2
    anomaly_min_expected: Annotated[float, Field(gt=0)] = 5.0
    anomaly_window_days: Annotated[int, Field(ge=5, le=40)] = Field(
        default=30,
        description="Working days summed by the sustained test (a drop or rise that lasts, "
        "seen in sparse counts), against the 60 working days before them.",
    )
    anomaly_hour: Hour = Field(default=6, description="Local hour the previous day is judged.")
    anomaly_lookback_days: Annotated[int, Field(ge=1, le=60)] = Field(
        default=20,
        description="Working days judged at once on the first run, and again after history "
        "(an import, or events marked backfill) arrives for days already judged.",
    )
    silent_min_days: Annotated[int, Field(ge=1, le=60)] = Field(
        default=3, description="Working days without any event before a rep counts as silent."
    )
    silent_alpha: Annotated[float, Field(gt=0, lt=0.5)] = Field(
        default=0.01,
        description="...and only if the rep's usual share of active days makes that many "
        "idle days in a row less likely than this.",
    )
    complaint_window_days: Annotated[int, Field(ge=1, le=30)] = 3
    complaint_min: Annotated[int, Field(ge=1)] = 3
    surge_last_days: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="Working days at a month's end judged for a surge of won deals."
    )
    surge_min_deals: Annotated[int, Field(ge=1)] = 3
    # Data quality.
    burst_count: Annotated[int, Field(ge=2)] = Field(
        default=8, description="Events of one type by one rep within burst_minutes: padding."
    )
    burst_minutes: Annotated[int, Field(ge=1, le=240)] = 5
    duplicate_visits: Annotated[int, Field(ge=2)] = Field(
        default=2, description="Visits to the same customer by the same rep on one day."
    )
    backdated_days: Annotated[int, Field(ge=1)] = Field(
        default=7,
        description="An event whose time is this many days before it arrived (history "
        "imports and events marked backfill excepted).",
    )
    future_minutes: Annotated[int, Field(ge=1)] = Field(
        default=60, description="An event whose time is this far after it arrived."
    )
    stale_source_hours: Annotated[float, Field(gt=0)] = Field(
        default=4.0, description="Working hours without events from a source that sends daily."
    )
    work_start_hour: Hour = 9
    work_end_hour: Hour = 18
    pipeline_lag_records: Annotated[int, Field(ge=1)] = 10_000
    # Digests.
    digest_weekday: Annotated[int, Field(ge=1, le=7)] = Field(
        default=1, description="ISO weekday of the weekly digest (1 = Monday)."
    )
    digest_hour: Hour = 9
    month_end_hour: Hour = Field(
        default=17, description="Local hour on the month's last working day for its digest."
    )


def alert_options(tenant: Tenant) -> AlertOptions:
    """The tenant's alert options (defaults for anything unset or no longer valid)."""
    raw: Any = (tenant.options or {}).get("alerts") or {}
    try:
        return AlertOptions.model_validate(raw)
    except ValidationError:
        return AlertOptions()
