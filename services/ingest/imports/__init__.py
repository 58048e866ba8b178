"""History imports: CSV and NDJSON files into the event log, with a report."""
