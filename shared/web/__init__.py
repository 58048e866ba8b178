"""HTTP kit shared by the ingest and api services: app factory, errors, auth, limits."""
