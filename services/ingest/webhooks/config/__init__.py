"""Connector configuration: endpoints, secrets and field mappings per tenant and source."""
