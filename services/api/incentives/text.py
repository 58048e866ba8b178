"""Kept only for callers outside incentives that still import these two names
(``paceline.api.kpi_metrics``): the words of incentives are in the ``incentives`` message
catalog (shared/i18n/locales/*/LC_MESSAGES/incentives.po) and rendered by
:mod:`paceline.shared.i18n`. New code uses :func:`paceline.shared.i18n.locale_of`."""

from __future__ import annotations

from paceline.shared.i18n import locale_of

__all__ = ["accept_language", "locale_of"]


def accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header that Paceline speaks, else None."""
    if not header:
        return None
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag.lower().startswith(("zh", "en")):
            return tag
    return None
