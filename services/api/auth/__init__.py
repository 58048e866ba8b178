"""Dashboard sign-in through OpenID Connect, and who the caller is (``/v1/me``)."""
