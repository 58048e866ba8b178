"""Role templates: KPIs and weights per role, built-in and custom."""
