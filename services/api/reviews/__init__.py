"""The period review (复盘) of a team."""
