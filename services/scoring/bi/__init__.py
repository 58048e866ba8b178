"""The progress snapshot of the BI SQL views (``paceline_bi.progress``)."""
