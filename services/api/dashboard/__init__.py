"""The managers' dashboard: static pages served by the api, and the small reads they use."""
