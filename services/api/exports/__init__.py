"""BI exports of progress and scorecards: flat rows, stable columns, JSON or CSV, cursors."""
