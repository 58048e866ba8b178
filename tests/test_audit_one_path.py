"""Audit entries go through one path (docs/SECURITY.md section 7): a structural check.

Every entry is written by ``Auditor.record`` (``shared/web/deps.py``), which fills the
actor, the request id and the injected clock's time. No module under ``services/`` may
import the storage module ``paceline.shared.db.audit`` and write entries around it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIT_MODULE = "paceline.shared.db.audit"


def violations(path: Path) -> list[str]:
    """Imports of the audit storage module in a module (line: what)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}"
                for a in node.names
                if a.name == AUDIT_MODULE or a.name.startswith(AUDIT_MODULE + ".")
            ]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == AUDIT_MODULE or module.startswith(AUDIT_MODULE + "."):
                found.append(f"{node.lineno}: from {module} import ...")
            elif module == "paceline.shared.db" and any(a.name == "audit" for a in node.names):
                found.append(f"{node.lineno}: from {module} import audit")
    return found


def test_services_write_audit_entries_only_through_the_auditor() -> None:
    modules = sorted((ROOT / "services").rglob("*.py"))
    assert len(modules) > 100  # the walk found the tree
    bad = {str(p.relative_to(ROOT)): v for p in modules if (v := violations(p))}
    assert not bad, bad


def test_the_check_sees_a_bypass(tmp_path: Path) -> None:
    module = tmp_path / "service.py"
    module.write_text(
        "from paceline.shared.db import audit\n"
        "from paceline.shared.db import models, audit as log\n"
        "from paceline.shared.db.audit import REDACTED\n"
        "import paceline.shared.db.audit\n"
        "from paceline.shared.web.deps import Auditor\n"
        "from paceline.shared.db import tenants\n",
        encoding="utf-8",
    )
    assert violations(module) == [
        "1: from paceline.shared.db import audit",
        "2: from paceline.shared.db import audit",
        "3: from paceline.shared.db.audit import ...",
        "4: import paceline.shared.db.audit",
    ]
