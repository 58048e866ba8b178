"""Scopes: the company, a team (with its sub-teams), or one rep. Pure: no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg


@dataclass(frozen=True, slots=True)
class Scope:
    """``company``, ``team:ID`` or ``rep:ID``."""

    kind: str
    id: str | None

    def __str__(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


def parse_scope(text: str, *, field: str = "scope") -> Scope:
    """Parse a scope; 422 naming the field if it is not one."""
    text = text.strip()
    if text == "company":
        return Scope("company", None)
    kind, sep, ident = text.partition(":")
    if sep and kind in {"team", "rep"} and ident.strip():
        return Scope(kind, ident.strip())
    raise InvalidInput(
        msg("scopes.not_a_scope", text=text),
        fields=[FieldError(field, msg("scopes.use_forms"))],
    )


def subtree(parents: Mapping[str, str | None], root: str) -> list[str]:
    """A team and every team under it (sorted)."""
    children: dict[str, list[str]] = {}
    for tid, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(tid)
    out, stack = [], [root]
    seen: set[str] = set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        out.append(t)
        stack.extend(children.get(t, []))
    return sorted(out)
