"""Facts for BI tools, and drill-down to the records behind every number."""
