"""The ingest service: verifies, authenticates and normalises events, then logs them."""
