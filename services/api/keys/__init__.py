"""API keys: create, list, rotate, revoke."""
