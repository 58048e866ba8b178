"""Scopes: the company, a team (with its sub-teams), or one rep."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.models import Rep, Team
from paceline.shared.errors import FieldError, InvalidInput, NotFound


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
        f"{text!r} is not a scope", fields=[FieldError(field, "use company, team:ID or rep:ID")]
    )


async def team_parents(session: AsyncSession, *, tenant_id: str) -> dict[str, str | None]:
    """Every team of a tenant and its parent."""
    rows = await session.execute(select(Team.id, Team.parent_id).where(Team.tenant_id == tenant_id))
    return {tid: parent for tid, parent in rows.all()}


def subtree(parents: dict[str, str | None], root: str) -> list[str]:
    """A team and every team under it."""
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


async def team_ids(session: AsyncSession, *, tenant_id: str, scope: Scope) -> list[str] | None:
    """The teams a team scope covers (None for company and rep scopes); 404 if unknown."""
    if scope.kind != "team":
        return None
    assert scope.id is not None
    parents = await team_parents(session, tenant_id=tenant_id)
    if scope.id not in parents:
        raise NotFound(f"no team {scope.id!r}")
    return subtree(parents, scope.id)


async def require_known(session: AsyncSession, *, tenant_id: str, scope: Scope) -> None:
    """404 unless a team or rep scope names something in the org chart."""
    if scope.kind == "team":
        await team_ids(session, tenant_id=tenant_id, scope=scope)
    elif scope.kind == "rep":
        assert scope.id is not None
        if await session.get(Rep, (tenant_id, scope.id)) is None:
            raise NotFound(f"no rep {scope.id!r} in the org chart")
