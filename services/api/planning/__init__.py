"""Planning: decomposition of goals, suggestions from history, the SMART check."""
