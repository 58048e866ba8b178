"""Scorecards and leaderboards."""
