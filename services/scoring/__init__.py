"""The scoring service: consumes the event log and keeps KPI facts, exactly once."""
