"""The KPI catalog."""
