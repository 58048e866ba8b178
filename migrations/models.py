"""Every model module, imported so Alembic sees all tables (one line per module)."""

from paceline.shared.db import (
    models,  # noqa: F401  # tenants, org, events, facts, targets, alerts...
    models_alerts,  # noqa: F401  # alert history, subscriptions, deliveries
    models_dashboard,  # noqa: F401  # dashboard/demo: index on events
    models_planning,  # noqa: F401  # history imports and their row reports
    models_webhooks,  # noqa: F401  # CRM connectors, snapshots, quarantine
)
