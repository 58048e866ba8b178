"""History import runs and their reports (read side; the import runs in ingest or the CLI)."""
