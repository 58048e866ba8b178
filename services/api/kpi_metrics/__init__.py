"""The opt-in Prometheus KPI exporter: the current periods' company and team progress as gauges."""
