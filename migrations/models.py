"""Every model module, imported so Alembic sees all tables (one line per module)."""

from paceline.shared.db import (
    models,  # noqa: F401  # tenants, org, events, facts, targets, alerts...
    models_alerts,  # noqa: F401  # alert history, subscriptions, deliveries
    models_bi,  # noqa: F401  # the progress snapshot of the BI views
    models_history,  # noqa: F401  # fact change log, month closes, adjustments
    models_import_runs,  # noqa: F401  # history imports and their row reports
    models_incentives,  # noqa: F401  # incentive plans, assignments, statements
    models_users,  # noqa: F401  # users, their roles and dashboard sessions
    models_webhooks,  # noqa: F401  # CRM connectors, snapshots, quarantine
)
