"""The api service: org, settings, KPIs, progress and everything managers and BI read."""
