"""Applying batches of events to facts: versions, retractions, upserts."""
