"""Prometheus metrics of every service (one registry per process), served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

INGEST_EVENTS = Counter(
    "paceline_ingest_events_total",
    "Events received by ingest, by source and result (accepted, duplicate, rejected).",
    ["source", "result"],
)
INGEST_EVENT_TYPES = Counter(
    "paceline_ingest_events_by_type_total", "Accepted events by type.", ["type"]
)
INGEST_LOG_FAILURES = Counter(
    "paceline_ingest_log_unavailable_total", "Requests refused because the event log was down."
)
SCORING_EVENTS = Counter(
    "paceline_scoring_events_total",
    "Log records consumed by scoring, by outcome (applied, repeated, unreadable).",
    ["outcome"],
)
SCORING_BATCH_SECONDS = Histogram(
    "paceline_scoring_batch_seconds",
    "Time to apply one batch, database commit included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SCORING_FRESHNESS_SECONDS = Histogram(
    "paceline_scoring_freshness_seconds",
    "From ingest's acknowledgement to the facts' commit, per applied event.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
CONSUMER_LAG = Gauge(
    "paceline_consumer_lag_records", "Log records not yet applied, per partition.", ["partition"]
)
SCORING_ERRORS = Counter(
    "paceline_scoring_batch_errors_total", "Batches that failed and were retried."
)


def render() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
