"""Users of a tenant: people with a role (docs/SECURITY.md, "Users and roles")."""
