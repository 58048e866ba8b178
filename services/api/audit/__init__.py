"""The audit log of admin actions, read through the API."""
