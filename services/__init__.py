"""Paceline: CRM webhooks in, live sales-KPI facts, pace, scorecards and alerts out.

The import name ``paceline`` maps the repository's folders (see pyproject.toml):
``paceline.shared`` is the common kit, ``paceline.ingest``, ``paceline.scoring`` and
``paceline.api`` are the three services (they never import each other), and
``paceline.cli`` is the top floor that composes them.
"""

__version__ = "0.1.0"
