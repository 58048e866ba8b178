"""What the dashboard and the demo need from the schema: one index on ``events``.

The data-quality checks of scoring (duplicate visits, bursts) read a rep's events of one
type over a day (``tenant_id, rep_id, type, occurred_at``). Without an index each check
scans the tenant's events, so loading a year of history (the demo company: ~30,000
events) took minutes instead of seconds; with it, each check is a range scan.
"""

from __future__ import annotations

from sqlalchemy import Index

from paceline.shared.db.models import Event

Index(
    "ix_events_tenant_rep_type_time",
    Event.tenant_id,
    Event.rep_id,
    Event.type,
    Event.occurred_at,
)
