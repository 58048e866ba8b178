"""What people read in the messages of targets and plans: KPI names (in both languages),
rep and team names instead of ids, and whether a KPI's values are money.

A message carries these as parameters (:mod:`paceline.shared.i18n`): a KPI as an
:class:`~paceline.shared.i18n.L10n` of its definition's names, the company as a word of
the catalogs, a team or a rep by their name (their id when the org chart has none).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import Tenant
from paceline.shared.i18n import L10n, msg
from paceline.shared.kpi.catalog import KpiDefinition
from paceline.shared.kpi.planning.common import amount, currency_of
from paceline.shared.readmodel.org import rep_names, team_names


def kpi_name(kpi: KpiDefinition) -> L10n:
    """A KPI's name in both languages."""
    return L10n(kpi.name_zh, kpi.name_en)


@dataclass
class Names:
    """The names of the KPIs and scopes a set of messages talks about."""

    currency: str
    kpis: dict[str, KpiDefinition | None] = field(default_factory=dict)
    scopes: dict[str, Any] = field(default_factory=dict)

    def kpi(self, key: str) -> Any:
        """A KPI as people read it (its key when it has no definition)."""
        found = self.kpis.get(key)
        return kpi_name(found) if found is not None else key

    def scope(self, scope: str) -> Any:
        """A scope as people read it (the company, a team's or a rep's name)."""
        if scope == "company":
            return msg("planning.scope.company")
        return self.scopes.get(scope, scope.partition(":")[2] or scope)

    def currency_of(self, key: str) -> str | None:
        """The currency of a KPI's values (None: not an amount)."""
        return currency_of(self.kpis.get(key), self.currency)

    def amount(self, key: str, value: Decimal) -> Any:
        """A value of a KPI as a message shows it."""
        return amount(value, self.currency_of(key))


async def names_of(
    session: AsyncSession,
    *,
    tenant_id: str,
    kpis: Iterable[str] = (),
    scopes: Iterable[str] = (),
    currency: str | None = None,
) -> Names:
    """The names of ``kpis`` and ``scopes`` (and the tenant's currency unless given)."""
    if currency is None:
        tenant = await session.get(Tenant, tenant_id)
        currency = tenant.currency if tenant is not None else "CNY"
    out = Names(currency)
    for key in set(kpis):
        out.kpis[key] = await find_kpi(session, tenant_id=tenant_id, key=key)
    teams: set[str] = set()
    reps: set[str] = set()
    for s in set(scopes):
        kind, _, ident = s.partition(":")
        if kind == "team":
            teams.add(ident)
        elif kind == "rep":
            reps.add(ident)
    for tid, name in (await team_names(session, tenant_id=tenant_id, team_ids=teams)).items():
        out.scopes[f"team:{tid}"] = name
    if reps:
        found = await rep_names(session, tenant_id=tenant_id, rep_ids=sorted(reps))
        for rid, name in found.items():
            out.scopes[f"rep:{rid}"] = name
    return out
