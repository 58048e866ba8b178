"""Built-in work calendars (package data)."""
