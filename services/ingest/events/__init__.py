"""Canonical event intake: ``POST /v1/events``."""
