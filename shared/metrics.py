"""Prometheus metrics of every service (one registry per process), served at ``/metrics``."""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# No ``<name>_created`` series beside every counter and histogram: they doubled the
# series count and no dashboard or rule reads them (Prometheus knows restarts from the
# counter resets). Process-wide in prometheus_client; this module is imported by every
# service before any metric is collected.
disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated

M = TypeVar("M", Counter, Histogram, Gauge)
_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}
_CHILDREN_MAX = 10_000


def child(metric: M, *values: str) -> M:
    """``metric.labels(*values)``, kept: the labelled child of a hot path is looked up in a
    dict instead of being checked and locked on every request (``labels`` costs about
    1.5 µs; four per ingest request). Bounded: past 10,000 children the cache starts over
    (children stay registered in the metric either way)."""
    key = (id(metric), values)
    found = _CHILDREN.get(key)
    if found is None:
        if len(_CHILDREN) >= _CHILDREN_MAX:
            _CHILDREN.clear()
        found = _CHILDREN[key] = metric.labels(*values)
    return found  # the child is of the metric's class


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

HTTP_REQUESTS = Counter(
    "paceline_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "paceline_http_request_seconds",
    "HTTP request duration (until the response is sent), by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)

AUTH_FAILURES = Counter(
    "paceline_auth_failures_total",
    "Requests refused by authentication, by reason (invalid_key, missing_scope).",
    ["reason"],
)
RATE_LIMITED = Counter(
    "paceline_rate_limited_total", "Requests refused with 429 because a key spent its budget."
)
IMPORT_ROWS = Counter(
    "paceline_import_rows_total",
    "Rows of history imports, by result (accepted, unchanged, duplicate, rejected).",
    ["result"],
)


ALERT_GROUP_MESSAGES = Counter(
    "paceline_alert_group_messages_total",
    "Group messages made from held alert changes (grouped subscriptions).",
)
ALERT_DELIVERIES = Counter(
    "paceline_alert_deliveries_total",
    "Alert delivery attempts by outcome (delivered, retry, dead, gone).",
    ["outcome"],
)
ALERT_DELIVERY_SECONDS = Histogram(
    "paceline_alert_delivery_seconds",
    "Duration of one delivery attempt (HTTP round trip).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ALERT_EVALUATIONS = Counter(
    "paceline_alert_evaluations_total",
    "Alert evaluation runs by kind (events, lag, daily, schedule) and result (ok, error).",
    ["kind", "result"],
)
WEBHOOK_ITEMS = Counter(
    "paceline_webhook_items_total",
    "CRM webhook items by adapter and status (accepted, duplicate, quarantined, ignored).",
    ["source", "status"],
)
WEBHOOK_REJECTED = Counter(
    "paceline_webhook_rejected_total",
    "CRM webhook requests refused with 401 (unknown endpoint, wrong or stale signature).",
    ["source"],
)
QUARANTINE_REPLAYS = Counter(
    "paceline_quarantine_replays_total",
    "Quarantine replays by result (replayed, still_pending).",
    ["result"],
)


def render() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
