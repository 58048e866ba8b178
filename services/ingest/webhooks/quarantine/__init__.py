"""Quarantine of payloads that could not be mapped: list, replay, discard."""
