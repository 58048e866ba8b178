"""Targets: per KPI, scope and period, versioned, with baseline and stretch."""
