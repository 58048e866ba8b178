"""Why an item is quarantined, as catalog messages: joined, stored, read back.

A quarantined item's reason is one or more messages (what failed, the notes of reading it
through the vendor's API, what would fix it). The ``reason`` column holds them as JSON —
the code and parameters of :func:`joined` (``{"code": ..., "params": ...}``) — so the
quarantine API renders them in each reader's language. Rows written before the catalogs
hold English text: read back as ``webhooks.reason.text`` with that text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from paceline.shared.i18n import Msg, msg, read_stored, to_json

MAX_STORED: Final = 4000  # characters of the reason column


def joined(messages: Sequence[Msg]) -> Msg:
    """Several reasons as one message (``a；b；c`` in zh-CN, ``a; b; c`` in en)."""
    if not messages:
        return msg("webhooks.reason.none")
    if len(messages) == 1:
        return messages[0]
    return msg("webhooks.reasons", first=messages[0], rest=joined(messages[1:]))


def stored(messages: Sequence[Msg]) -> str:
    """The reasons as the column keeps them (JSON); the last ones are left out when the
    whole would not fit, and a single reason that does not fit is kept as English text."""
    kept = list(messages)
    while kept:
        text = orjson.dumps(to_json(joined(kept))).decode()
        if len(text) <= MAX_STORED:
            return text
        if len(kept) == 1:
            break
        kept.pop()
    return orjson.dumps(
        to_json(msg("webhooks.reason.text", text=str(joined(messages))[: MAX_STORED // 2]))
    ).decode()


def read(text: str) -> Msg:
    """A stored reason as a message (English text of an older row: as it is)."""
    return read_stored(text, plain="webhooks.reason.text")
