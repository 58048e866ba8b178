"""The org chart: teams (nested) and reps, with team membership over time."""
