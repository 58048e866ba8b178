"""Delivery of alerts and digests to subscribers: formats, signing, retries."""
