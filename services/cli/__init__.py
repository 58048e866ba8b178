"""The top floor: the ``paceline`` command composes the services into processes."""
