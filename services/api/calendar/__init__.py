"""The tenant's work calendar: a built-in base plus the tenant's holidays and make-up days."""
