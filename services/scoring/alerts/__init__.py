"""Lag, anomaly and data-quality evaluation (event-driven and time-driven)."""
