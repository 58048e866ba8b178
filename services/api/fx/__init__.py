"""Exchange rates into the tenant currency: listed, upserted, imported from CSV, deleted."""
