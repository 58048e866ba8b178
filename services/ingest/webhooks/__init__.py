"""CRM webhooks: adapters per vendor, signatures, per-tenant mappings, snapshots."""
