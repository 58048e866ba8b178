"""Tenants: the operator creates and lists them."""
