"""The read-only OData v4 feed for BI tools (docs/BI.md, "OData feed")."""
