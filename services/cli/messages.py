"""The CLI's sentences for people, in one place (a later issue turns them into catalogs).

Each is a whole sentence with named fields (``str.format``), so that a translation can
reorder them.
"""

from __future__ import annotations

PORT_IN_USE_SERVE = "port {port} is in use; try `make run PORT={other}` or `--port`"
PORT_IN_USE = "port {port} is in use; try `--port`"
CANNOT_LISTEN = "cannot listen on {host} port {port}: {reason}"
NO_DATABASE = (
    "no Paceline database at {path}; run paceline serve or paceline migrate first, "
    "or pass --data-dir"
)
