"""All SQL lives in repositories (docs/ARCHITECTURE.md): a structural check of the tree.

A module outside a repository may hold a session and use the ORM's unit of work
(``session.get``, ``add``, ``delete``: identity-map operations on one row by key), but it
may not build queries (``select``, ``insert``, ``func``...) or run them (``execute``,
``scalar``, ``scalars``, ``stream``). Repositories are modules named ``repository.py`` or
``*_repository.py``, everything in ``shared/db/`` and ``shared/eventlog/`` (storage
itself), and the read model's ``org``, ``rollups`` and ``targets``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY_NAMES = {
    "select",
    "insert",
    "update",
    "delete",
    "text",
    "func",
    "exists",
    "and_",
    "or_",
    "union_all",
    "literal",
    "case",
    "distinct",
    "tuple_",
    "bindparam",
}
RUN_CALLS = {"execute", "scalar", "scalars", "stream", "stream_scalars"}
READ_MODEL_REPOSITORIES = {"org.py", "rollups.py", "targets.py", "incentives.py"}


def _is_repository(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    parts = rel.parts
    return (
        path.name == "repository.py"
        or path.name.endswith("_repository.py")
        or "repository" in parts[:-1]
        or parts[:2] in {("shared", "db"), ("shared", "eventlog")}
        or (parts[:2] == ("shared", "readmodel") and path.name in READ_MODEL_REPOSITORIES)
    )


def violations(path: Path) -> list[str]:
    """Query constructs imported or queries run in a module (line: what)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            if (node.module or "").startswith("sqlalchemy.ext.asyncio"):
                continue
            names = sorted(a.name for a in node.names if a.name in QUERY_NAMES)
            if names:
                found.append(f"{node.lineno}: imports {', '.join(names)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUN_CALLS
            and isinstance(node.func.value, ast.Name)
            and "session" in node.func.value.id
        ):
            found.append(f"{node.lineno}: session.{node.func.attr}()")
    return found


def test_sql_lives_in_repositories() -> None:
    modules = [
        p
        for folder in ("shared", "services")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if not _is_repository(p)
    ]
    assert len(modules) > 100  # the walk found the tree
    bad = {str(p.relative_to(ROOT)): v for p in modules if (v := violations(p))}
    assert not bad, bad


def test_the_check_sees_a_query(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text(
        "from sqlalchemy import select\n"
        "async def f(session):\n"
        "    return await session.scalar(select(1))\n",
        encoding="utf-8",
    )
    assert violations(module) == ["1: imports select", "3: session.scalar()"]
