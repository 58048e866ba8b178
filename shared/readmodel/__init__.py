"""The read model: "KPI k for scope s over period p as of t", in one place.

Every reader — progress, scorecards, leaderboards, the dashboard, reviews, exports, BI
facts, planning, and scoring's lag and digest jobs — goes through this package:

- :mod:`.scopes` — pure: what a scope is and how it is written (``company``,
  ``team:ID``, ``rep:ID``), team subtrees.
- :mod:`.org` — the org chart over time (teams, sub-teams, reps and their memberships):
  the only place these queries live.
- :mod:`.rollups` — facts rolled up over days, reps and teams (membership as of each
  fact's day).
- :mod:`.targets` — targets and their versions (the version in force at an instant).
- :mod:`.evaluation` — pure: which measures a formula needs, counted days, pace and
  status, and the one rounding rule for figures (4 decimal places, half-even).
- :mod:`.progress` — the orchestration: actual, target in force, expected, pace,
  projections and status of one KPI, scope and period at ``as_of``.

The write side (scoring's facts, the api's target revisions) writes the tables; this
package only reads them. Bitemporal as-of, month close and incentive reads extend it here.
"""
