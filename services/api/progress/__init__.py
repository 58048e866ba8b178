"""Progress: actual, target, expected, pace, projection and status for a scope and period."""
