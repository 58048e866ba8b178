"""Progress and scorecards as flat rows for BI tools.

* Progress: one row per target of a period (filtered by KPI and scope), with the values
  ``GET /v1/progress`` answers for it at ``as_of``; pages ordered by target id.
* Scorecards: one row per rep and KPI of the rep's role template, with the rep's weighted
  score repeated on each row (so a BI tool can both pivot KPIs and rank reps); pages of
  whole reps, ordered by rep id.

Every page of one export reads at the same ``as_of`` (the next-page link carries it), so
a BI refresh that pages through sees one consistent instant.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.exports import repository as repo
from paceline.api.exports.schemas import PROGRESS_COLUMNS, SCORECARD_COLUMNS
from paceline.api.facts.service import decode_cursor, encode_cursor
from paceline.api.progress.service import progress as progress_of
from paceline.api.scorecards.service import rep_scorecards
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.models import Tenant
from paceline.shared.errors import FieldError, InvalidInput
from paceline.shared.i18n import msg
from paceline.shared.kpi.periods import Period
from paceline.shared.readmodel import rollups
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.readmodel.org import team_ids
from paceline.shared.readmodel.progress import kpi_or_404
from paceline.shared.readmodel.scopes import parse_scope

Row = dict[str, Any]


def _cell(value: object) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal | str):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or None
    return str(value)


def _target_cursor(cursor: str) -> int:
    """The target id a progress cursor holds; 422 naming the cursor otherwise."""
    value = decode_cursor(cursor, ["id"])[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(
            msg("exports.cursor.invalid"),
            fields=[FieldError("cursor", msg("exports.cursor.use_next"))],
        )
    return value


async def progress_rows(
    session: AsyncSession,
    *,
    tenant: Tenant,
    period: Period,
    kpi: str | None,
    scope: str | None,
    as_of: datetime,
    cursor: str | None,
    limit: int,
    known: datetime | None = None,
) -> tuple[list[Row], str | None]:
    """One page of progress rows and the next cursor."""
    after = _target_cursor(cursor) if cursor else None
    targets = await targets_repo.search(
        session,
        tenant_id=tenant.id,
        kpi=kpi,
        scope=str(parse_scope(scope)) if scope else None,
        period=period.key,
        parent_id=None,
        after_id=after,
        limit=limit + 1,
    )
    more = len(targets) > limit
    targets = targets[:limit]
    rows = []
    for t in targets:
        p = await progress_of(
            session,
            tenant=tenant,
            kpi=await kpi_or_404(session, tenant.id, t.kpi),
            scope=parse_scope(t.scope),
            period=period,
            as_of=as_of,
            known=known,
        )
        values = p.model_dump()
        values["period"] = p.period.key
        rows.append({c: _cell(values.get(c)) for c in PROGRESS_COLUMNS})
    return rows, encode_cursor([targets[-1].id]) if more and targets else None


async def scorecard_rows(
    session: AsyncSession,
    *,
    tenant: Tenant,
    period: Period,
    team: str | None,
    template: str | None,
    as_of: datetime,
    cursor: str | None,
    limit: int,
    known: datetime | None = None,
) -> tuple[list[Row], str | None]:
    """One page of scorecard rows (``limit`` reps, every KPI of each) and the next cursor."""
    after = str(decode_cursor(cursor, ["rep"])[0]) if cursor else None
    teams = (
        await team_ids(session, tenant_id=tenant.id, scope=parse_scope(f"team:{team}"))
        if team
        else None
    )
    spans = await rollups.reps_in_scope(
        session, tenant_id=tenant.id, start=period.start, end=period.end, team_ids=teams
    )
    reps = sorted({r for r, _lo, _hi in spans if after is None or r > after})
    more = len(reps) > limit
    reps = reps[:limit]
    if not reps:
        return [], None
    cards = await rep_scorecards(
        session,
        tenant=tenant,
        rep_ids=reps,
        period=period,
        as_of=as_of,
        calendar=await tenant_calendar(session, tenant=tenant),
        template_key=template,
        known=known,
    )
    people = await repo.rep_names_and_teams(session, tenant_id=tenant.id, rep_ids=reps)
    rows = []
    for card in cards:
        rep = card.scope.removeprefix("rep:")
        name, current_team = people.get(rep, (None, None))
        for item in card.items:
            values = item.model_dump() | {
                "period": card.period,
                "as_of": card.as_of,
                "rep_id": rep,
                "rep_name": name,
                "team": current_team,
                "template": card.template,
                "score": card.score,
                "score_tier": card.tier,
                "coverage": card.coverage,
            }
            rows.append({c: _cell(values.get(c)) for c in SCORECARD_COLUMNS})
    return rows, encode_cursor([reps[-1]]) if more else None
