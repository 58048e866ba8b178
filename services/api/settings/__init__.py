"""Tenant settings: time zone, currency, fiscal year, pace thresholds."""
