"""Alerts: list, filter, acknowledge, resolve; history, digests and alert settings."""
