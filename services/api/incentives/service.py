"""Incentive plans, assignments, earnings, what-if and statements (docs/INCENTIVES.md).

Plans are versioned like targets: a revision is a new version with its author and
reason, and reads take the version in force at the moment they answer for. Earnings are
computed on read from the facts (``paceline.shared.readmodel.earnings``), so they follow
the facts as events arrive. Statements freeze a closed month's earnings (the figures as
closed) and move draft → approved → paid, each step audited with who made it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.incentives import repository as repo
from paceline.api.incentives.schemas import (
    AppliedOut,
    AssignmentIn,
    AssignmentOut,
    AssignmentsOut,
    ComponentOut,
    EarningsOut,
    FactsRef,
    LineOut,
    NextTierOut,
    PlanIn,
    PlanOut,
    PlanRevision,
    PlansOut,
    PlanVersionOut,
    PoolOut,
    RepEarningsOut,
    SegmentOut,
    StatementOut,
    StatementsIn,
    StatementsOut,
    WhatIfIn,
    WhatIfOut,
)
from paceline.shared.db.context import close_book, tenant_context, tenant_kpis
from paceline.shared.db.models import Tenant
from paceline.shared.db.models_incentives import (
    IncentiveAssignment,
    IncentivePlan,
    IncentivePlanVersion,
    IncentiveStatement,
)
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.events import CanonicalEvent
from paceline.shared.i18n import Invalid, L10n, Money, Msg, Pct, both, msg, params_json
from paceline.shared.kpi.incentives.earnings import Earnings, Line, add_deltas, rep_earnings
from paceline.shared.kpi.incentives.payout import to_decimal
from paceline.shared.kpi.incentives.plans import PlanBody, Spiff, check_plan
from paceline.shared.kpi.periods import Period, parse_period
from paceline.shared.kpi.records import contributions, fold
from paceline.shared.kpi.values import MeasureTotal, measure_value
from paceline.shared.readmodel import earnings as reader
from paceline.shared.readmodel import org
from paceline.shared.readmodel.evaluation import is_additive
from paceline.shared.readmodel.scopes import Scope, parse_scope
from paceline.shared.web.deps import Auditor

ZERO = Decimal(0)
MAX_REPS = 5000  # reps one earnings read may cover


# -- plans -------------------------------------------------------------------------------


async def _check(session: AsyncSession, tenant_id: str, body: PlanBody) -> None:
    defs = await tenant_kpis(session, tenant_id=tenant_id)
    kpis = {
        k.key: "additive"
        if is_additive(k)
        else "distinct"
        if k.formula.shape == "value"
        else "ratio"
        for k in defs
    }
    names = {k.key: L10n(k.name_zh, k.name_en) for k in defs}
    problems = check_plan(body, known_kpis=kpis, kpi_names=names)
    if problems:
        raise InvalidInput(
            msg(
                "incentives.plan.invalid",
                fields=[
                    msg("errors.field_reason", field=p.field, reason=p.reason) for p in problems[:3]
                ],
            ),
            fields=problems,
        )


def _version_out(v: IncentivePlanVersion) -> PlanVersionOut:
    body = PlanBody.model_validate(v.body)
    return PlanVersionOut(
        version=v.version,
        recorded_at=v.recorded_at,
        author=v.author,
        reason=v.reason,
        components=body.components,
        names={"zh-CN": body.name_zh, "en": body.name_en},
    )


async def _plan_out(
    session: AsyncSession, plan: IncentivePlan, *, versions: bool = False
) -> PlanOut:
    rows = await repo.plan_versions(session, tenant_id=plan.tenant_id, key=plan.key)
    current = next(v for v in rows if v.version == plan.current_version)
    body = PlanBody.model_validate(current.body)
    return PlanOut(
        key=plan.key,
        names={"zh-CN": plan.name_zh, "en": plan.name_en},
        current_version=plan.current_version,
        components=body.components,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        versions=[_version_out(v) for v in rows] if versions else None,
    )


async def create_plan(
    session: AsyncSession, *, tenant: Tenant, body: PlanIn, now: datetime, auditor: Auditor
) -> PlanOut:
    """A new plan (version 1); 409 if the key is taken, 422 for a plan that breaks a rule."""
    doc = PlanBody(name_zh=body.name_zh, name_en=body.name_en, components=body.components)
    await _check(session, tenant.id, doc)
    if await repo.get_plan(session, tenant_id=tenant.id, key=body.key) is not None:
        raise Conflict(msg("incentives.plan.exists", key=body.key))
    plan = IncentivePlan(
        tenant_id=tenant.id,
        key=body.key,
        name_zh=body.name_zh,
        name_en=body.name_en,
        current_version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(plan)
    session.add(
        IncentivePlanVersion(
            tenant_id=tenant.id,
            plan_key=body.key,
            version=1,
            body=doc.model_dump(mode="json", by_alias=True),
            recorded_at=now,
            author=auditor.actor,
            reason=body.reason,
        )
    )
    await session.flush()
    out = await _plan_out(session, plan)
    await auditor.record(
        "incentives.plan_create", target=f"plan:{body.key}", after=out.model_dump(mode="json")
    )
    return out


async def revise_plan(
    session: AsyncSession,
    *,
    tenant: Tenant,
    key: str,
    body: PlanRevision,
    now: datetime,
    auditor: Auditor,
) -> PlanOut:
    """A new version of a plan, in force from now on (earlier reads keep the old one)."""
    plan = await repo.get_plan(session, tenant_id=tenant.id, key=key)
    if plan is None:
        raise NotFound(msg("incentives.plan.not_found", key=key))
    doc = PlanBody(name_zh=body.name_zh, name_en=body.name_en, components=body.components)
    await _check(session, tenant.id, doc)
    before = await _plan_out(session, plan)
    plan.current_version += 1
    plan.name_zh, plan.name_en, plan.updated_at = body.name_zh, body.name_en, now
    session.add(
        IncentivePlanVersion(
            tenant_id=tenant.id,
            plan_key=key,
            version=plan.current_version,
            body=doc.model_dump(mode="json", by_alias=True),
            recorded_at=now,
            author=auditor.actor,
            reason=body.reason,
        )
    )
    await session.flush()
    out = await _plan_out(session, plan)
    await auditor.record(
        "incentives.plan_revise",
        target=f"plan:{key}",
        before=before.model_dump(mode="json"),
        after=out.model_dump(mode="json"),
    )
    return out


async def list_plans(session: AsyncSession, *, tenant: Tenant) -> PlansOut:
    """The tenant's plans, by key."""
    rows = await repo.plans(session, tenant_id=tenant.id)
    return PlansOut(plans=[await _plan_out(session, p) for p in rows])


async def get_plan(session: AsyncSession, *, tenant: Tenant, key: str) -> PlanOut:
    """A plan with every version."""
    plan = await repo.get_plan(session, tenant_id=tenant.id, key=key)
    if plan is None:
        raise NotFound(msg("incentives.plan.not_found", key=key))
    return await _plan_out(session, plan, versions=True)


# -- assignments -------------------------------------------------------------------------


def _assignment_out(a: IncentiveAssignment) -> AssignmentOut:
    return AssignmentOut(
        id=a.id,
        plan=a.plan_key,
        rep=a.rep_id,
        role=a.role,
        valid_from=a.valid_from,
        valid_to=a.valid_to,
        created_at=a.created_at,
        created_by=a.created_by,
    )


async def create_assignment(
    session: AsyncSession,
    *,
    tenant: Tenant,
    body: AssignmentIn,
    now: datetime,
    auditor: Auditor,
) -> AssignmentOut:
    """Assign a plan to a rep or a role for some days; 409 if it overlaps the same plan's
    assignment of the same rep or role."""
    if (body.rep is None) == (body.role is None):
        raise InvalidInput(
            msg("incentives.assignment.rep_or_role"),
            fields=[FieldError("rep", msg("incentives.assignment.rep_xor_role"))],
        )
    if body.valid_to is not None and body.valid_to <= body.valid_from:
        raise InvalidInput(
            msg("incentives.assignment.ends_before_start"),
            fields=[FieldError("valid_to", msg("incentives.assignment.after_valid_from"))],
        )
    if await repo.get_plan(session, tenant_id=tenant.id, key=body.plan) is None:
        raise InvalidInput(
            msg("incentives.plan.unknown"),
            fields=[FieldError("plan", msg("incentives.plan.not_found", key=body.plan))],
        )
    names: dict[str, str] = {}
    if body.rep is not None:
        names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=[body.rep])
        if body.rep not in names:
            raise InvalidInput(
                msg("incentives.rep.unknown"),
                fields=[FieldError("rep", msg("incentives.rep.not_in_org", rep=body.rep))],
            )
    for other in await repo.assignments(session, tenant_id=tenant.id, plan=body.plan):
        if (other.rep_id, other.role) != (body.rep, body.role):
            continue
        if _overlap(other.valid_from, other.valid_to, body.valid_from, body.valid_to):
            who = (
                msg("incentives.assignment.to_rep", name=names.get(body.rep, body.rep))
                if body.rep is not None
                else msg("incentives.assignment.to_role", role=str(body.role))
            )
            raise Conflict(
                msg("incentives.assignment.overlap", id=str(other.id), plan=body.plan, who=who)
            )
    row = IncentiveAssignment(
        tenant_id=tenant.id,
        plan_key=body.plan,
        rep_id=body.rep,
        role=body.role,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        created_at=now,
        created_by=auditor.actor,
    )
    session.add(row)
    await session.flush()
    out = _assignment_out(row)
    await auditor.record(
        "incentives.assign", target=f"assignment:{row.id}", after=out.model_dump(mode="json")
    )
    return out


def _overlap(a0: date, a1: date | None, b0: date, b1: date | None) -> bool:
    return (a1 is None or b0 < a1) and (b1 is None or a0 < b1)


async def list_assignments(
    session: AsyncSession, *, tenant: Tenant, plan: str | None, rep: str | None
) -> AssignmentsOut:
    """Assignments, optionally of one plan or one rep."""
    rows = await repo.assignments(session, tenant_id=tenant.id, plan=plan, rep=rep)
    return AssignmentsOut(assignments=[_assignment_out(a) for a in rows])


async def delete_assignment(
    session: AsyncSession, *, tenant: Tenant, assignment_id: int, auditor: Auditor
) -> None:
    """Remove an assignment (audited)."""
    row = await repo.get_assignment(session, tenant_id=tenant.id, assignment_id=assignment_id)
    if row is None:
        raise NotFound(msg("incentives.assignment.not_found", id=str(assignment_id)))
    before = _assignment_out(row).model_dump(mode="json")
    await session.delete(row)
    await auditor.record("incentives.unassign", target=f"assignment:{assignment_id}", before=before)


# -- earnings ----------------------------------------------------------------------------


def month_or_422(key: str, tenant: Tenant, field: str = "period") -> Period:
    """A month of the tenant's calendar, or 422 naming the field."""
    reason: Msg | None = None
    try:
        period = parse_period(key, fiscal_year_start_month=tenant.fiscal_year_start_month)
    except ValueError as exc:
        # The period parser's own catalog message when it has one, else ours.
        reason = (
            exc.msg if isinstance(exc, Invalid) else msg("incentives.period.invalid", period=key)
        )
    else:
        if period.kind == "month":
            return period
        reason = msg("incentives.period.not_month")
    raise InvalidInput(reason, fields=[FieldError(field, reason)])


async def _scope_reps(
    session: AsyncSession, *, tenant: Tenant, scope: Scope, period: Period
) -> list[str]:
    await org.require_known(session, tenant_id=tenant.id, scope=scope)
    if scope.kind == "rep":
        assert scope.id is not None
        return [scope.id]
    teams = await org.team_ids(session, tenant_id=tenant.id, scope=scope)
    reps = await repo.reps_in(
        session, tenant_id=tenant.id, team_ids=teams, start=period.start, end=period.end
    )
    if len(reps) > MAX_REPS:
        raise InvalidInput(
            msg("incentives.scope.too_many_reps"),
            fields=[FieldError("scope", msg("incentives.scope.max_reps", max=MAX_REPS))],
        )
    return reps


def _records_href(kpi: str, rep: str, start: date | None, end: date | None) -> str | None:
    if start is None or end is None or end <= start:
        return None
    last = date.fromordinal(end.toordinal() - 1)
    query = urlencode(
        {"kpi": kpi, "scope": f"rep:{rep}", "from": start.isoformat(), "to": last.isoformat()}
    )
    return f"/v1/facts/records?{query}"


def _records_of(
    line: Line, rep: str, start: date | None, end: date | None, period: str
) -> str | None:
    if line.kind in ("clawback", "true_up") and line.source_period is not None:
        query = urlencode(
            {"period": period, "source_period": line.source_period, "kpi": line.basis, "rep": rep}
        )
        return f"/v1/adjustments?{query}"
    if line.kind in ("commission", "spiff"):
        return _records_href(line.basis, rep, start, end)
    return None


def line_out(line: Line, *, rep: str, period: str, counted_end: date | None = None) -> LineOut:
    """An engine line as the API shows it, with where its facts are: the records behind a
    commission or spiff, the adjustments behind a clawback."""
    facts = None
    if line.basis != "scorecard":
        start, end = line.start, line.end
        if end is not None and counted_end is not None:
            end = min(end, counted_end)
        facts = FactsRef(
            kpi=line.basis,
            rep=rep,
            start=start,
            end=end,
            records=_records_of(line, rep, start, end, period),
        )
    return LineOut(
        kind=line.kind,
        component=line.component,
        plan=line.plan,
        version=line.version,
        start=line.start,
        end=line.end,
        share=_q(line.share),
        basis=line.basis,
        base=_q(line.base),
        attainment=_q(line.attainment),
        rate=_q(line.rate, 8),
        tier=line.tier,
        factor=_q(line.factor),
        applied=[
            AppliedOut(key=a.key, type=a.type, passed=a.passed, factor=_q(a.factor))
            for a in line.applied
        ],
        amount=line.amount,
        source_period=line.source_period,
        team=line.team,
        split=_q(line.split),
        facts=facts,
    )


def _q(value: Decimal | None, places: int = 4) -> Any:
    if value is None:
        return None
    return value.quantize(Decimal(1).scaleb(-places))


def _components(earned: Earnings, projected: Earnings) -> list[ComponentOut]:
    kinds: dict[tuple[str, str], str] = {}
    for ln in (*earned.lines, *projected.lines):
        if ln.kind not in ("clawback", "true_up"):
            kinds.setdefault((ln.plan, ln.component), ln.kind)
    out = []
    for (plan, key), kind in kinds.items():
        e = sum((ln.amount for ln in earned.lines if (ln.plan, ln.component) == (plan, key)), ZERO)
        p = sum(
            (ln.amount for ln in projected.lines if (ln.plan, ln.component) == (plan, key)), ZERO
        )
        out.append(ComponentOut(component=key, type=kind, plan=plan, earned=e, projected=p))
    return out


def _kpi_label(month: reader.MonthEarnings, rep: str, key: str) -> L10n | str:
    kpi = month.reps[rep].kpis.get(key)
    if kpi is None:
        return key
    return L10n(kpi.name_zh, kpi.name_en)


def _rep_out(
    month: reader.MonthEarnings, rep: str, names: dict[str, str], currency: str
) -> RepEarningsOut:
    r = month.reps[rep]
    nexts = []
    for n in r.next:
        # Prose: money in 万 from ten thousand up in zh-CN (再完成 ¥1.5万 收入…).
        message = msg(
            "incentives.next_tier",
            more=Money(n.more, currency) if _is_money(month, rep, n.kpi) else n.more,
            kpi=_kpi_label(month, rep, n.kpi),
            at=Pct(n.at),
            gain=Money(n.gain, currency),
        )
        nexts.append(
            NextTierOut(
                component=n.component,
                kpi=n.kpi,
                attainment=_q(n.at),
                more=_q(n.more),
                gain=n.gain,
                message=both(message),
                message_code=message.code,
                message_params=params_json(message.params),
            )
        )
    return RepEarningsOut(
        rep=rep,
        name=names.get(rep),
        team=r.team,
        plans=[
            SegmentOut(
                plan=s.plan,
                version=s.version,
                names={"zh-CN": s.body.name_zh, "en": s.body.name_en},
                start=s.start,
                end=s.end,
                share=_q(to_decimal(s.share)),
            )
            for s in r.inputs.segments
        ],
        earned=r.earned.total,
        projected=r.projected.total,
        score=_q(r.earned.score),
        components=_components(r.earned, r.projected),
        lines=[
            line_out(ln, rep=rep, period=month.period.key, counted_end=month.end)
            for ln in r.earned.lines
        ],
        next_tiers=nexts,
    )


def _is_money(month: reader.MonthEarnings, rep: str, key: str) -> bool:
    kpi = month.reps[rep].kpis.get(key)
    return kpi is not None and kpi.unit == "currency"


def _pools(month: reader.MonthEarnings) -> list[PoolOut]:
    groups: dict[tuple[str, str, str], list[Line]] = {}
    for r in month.reps.values():
        for ln in r.earned.lines:
            if ln.kind == "pool" and ln.team is not None:
                groups.setdefault((ln.team, ln.plan, ln.component), []).append(ln)
    return [
        PoolOut(
            team=team,
            plan=plan,
            component=key,
            attainment=_q(lines[0].attainment),
            pool=lines[0].base or ZERO,
            allocated=sum((ln.amount for ln in lines), ZERO),
        )
        for (team, plan, key), lines in sorted(groups.items())
    ]


async def earnings(
    session: AsyncSession,
    *,
    tenant: Tenant,
    scope: Scope,
    period: Period,
    as_of: datetime,
    known: datetime | None,
) -> EarningsOut:
    """Earned to date, projection and next tiers of a rep or a team's reps."""
    reps = await _scope_reps(session, tenant=tenant, scope=scope, period=period)
    month = await reader.read_earnings(
        session, tenant=tenant, reps=reps, period=period, as_of=as_of, known=known
    )
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)
    outs = [_rep_out(month, rep, names, tenant.currency) for rep in reps]
    book = close_book(tenant)
    return EarningsOut(
        scope=str(scope),
        period=period.key,
        as_of=as_of,
        known_at=known,
        currency=tenant.currency,
        working_days_elapsed=month.elapsed,
        working_days_total=month.total,
        closed=bool(book) and book.closed_now(period.key) is not None,
        earned=sum((o.earned for o in outs), ZERO),
        projected=sum((o.projected for o in outs), ZERO),
        reps=outs,
        pools=_pools(month),
    )


async def what_if(
    session: AsyncSession, *, tenant: Tenant, body: WhatIfIn, now: datetime
) -> WhatIfOut:
    """Earnings with hypothetical won deals: each deal goes through the tenant's KPI
    definitions as a won deal would (revenue, deals won, new customers, margin...)."""
    period = month_or_422(body.period, tenant)
    as_of = body.as_of or now
    if as_of.tzinfo is None:
        raise InvalidInput(
            msg("incentives.what_if.as_of_offset"),
            fields=[FieldError("as_of", msg("incentives.what_if.add_offset"))],
        )
    scope = parse_scope(f"rep:{body.rep}", field="rep")
    await org.require_known(session, tenant_id=tenant.id, scope=scope)
    month = await reader.read_earnings(
        session, tenant=tenant, reps=[body.rep], period=period, as_of=as_of
    )
    r = month.reps[body.rep]
    ctx = await tenant_context(session, tenant=tenant)
    kpis = [k for k in await tenant_kpis(session, tenant_id=tenant.id) if k.key in r.kpis]
    tz = ZoneInfo(tenant.timezone)
    inputs = r.inputs
    for i, deal in enumerate(body.deals):
        day = deal.day or as_of.astimezone(tz).date()
        if not period.contains(day):
            raise InvalidInput(
                msg("incentives.what_if.deal_outside"),
                fields=[
                    FieldError(
                        f"deals[{i}].day", msg("incentives.what_if.day_in_month", period=period.key)
                    )
                ],
            )
        occurred = datetime.combine(day, datetime.min.time(), tz).replace(hour=12)
        event = CanonicalEvent.model_validate(
            {
                "event_id": f"what-if-{i}",
                "type": "deal",
                "occurred_at": occurred.astimezone(UTC).isoformat(),
                "rep_id": body.rep,
                "customer_id": deal.customer_id or f"what-if-customer-{i}",
                "amount": str(deal.amount),
                "stage": "won",
                "closed_at": occurred.astimezone(UTC).isoformat(),
                "is_new_customer": deal.is_new_customer,
                **({"margin": str(deal.margin)} if deal.margin is not None else {}),
            }
        )
        found, _issues = contributions(fold(None, event), kpis, ctx)
        deltas: dict[str, list[Decimal]] = {}
        by_kpi = {k.key: k for k in kpis}
        for c in found:
            kpi = by_kpi[c.kpi]
            m = kpi.formula.measures[c.measure]
            total = MeasureTotal(units=c.units, records=1, members=1 if m.kind == "distinct" else 0)
            acc = deltas.setdefault(c.kpi, [ZERO, ZERO])
            if c.measure < 2:
                acc[c.measure] += measure_value(kpi.formula, c.measure, total)
        spiffs: dict[str, Decimal] = {}
        for seg in inputs.segments:
            for comp in seg.body.components:
                if isinstance(comp, Spiff) and comp.start <= day <= comp.end and comp.kpi in deltas:
                    spiffs[comp.key] = deltas[comp.kpi][0]
        inputs = add_deltas(
            inputs, {k: (v[0], v[1]) for k, v in deltas.items()}, day=day, spiffs=spiffs
        )
    with_deals = rep_earnings(inputs)
    gain = with_deals.total - r.earned.total
    # The projection with the deals: today's projection plus what they add.
    message = msg(
        "incentives.what_if",
        gain=Money(gain, tenant.currency),
        total=Money(with_deals.total, tenant.currency),
    )
    return WhatIfOut(
        rep=body.rep,
        period=period.key,
        as_of=as_of,
        currency=tenant.currency,
        earned=r.earned.total,
        earned_with=with_deals.total,
        gain=gain,
        projected=r.projected.total,
        projected_with=r.projected.total + gain,
        components=_components(with_deals, r.projected),
        lines=[line_out(ln, rep=body.rep, period=period.key) for ln in with_deals.lines],
        message=both(message),
        message_code=message.code,
        message_params=params_json(message.params),
    )


# -- statements --------------------------------------------------------------------------


def _statement_out(row: IncentiveStatement, names: dict[str, str]) -> StatementOut:
    return StatementOut(
        id=row.id,
        rep=row.rep_id,
        name=names.get(row.rep_id),
        period=row.period,
        status=row.status,
        currency=row.currency,
        total=Decimal(row.total),
        lines=[LineOut.model_validate(ln) for ln in row.lines],
        plans=[SegmentOut.model_validate(p) for p in row.plans],
        known_at=row.known_at,
        generated_at=row.generated_at,
        generated_by=row.generated_by,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        paid_at=row.paid_at,
        paid_by=row.paid_by,
        note=row.note,
    )


async def generate_statements(
    session: AsyncSession,
    *,
    tenant: Tenant,
    body: StatementsIn,
    now: datetime,
    auditor: Auditor,
) -> StatementsOut:
    """Draft statements for a closed month from its figures as closed: every rep with a
    plan that month (or the reps named). Drafts are regenerated; approved and paid
    statements are kept as they are."""
    period = month_or_422(body.period, tenant)
    book = close_book(tenant)
    close = book.closed_now(period.key) if book else None
    if close is None:
        raise InvalidInput(
            msg("incentives.statements.not_closed"),
            fields=[FieldError("period", msg("incentives.statements.close_first"))],
        )
    reps = body.reps
    if reps is None:
        reps = await repo.reps_with_plans(
            session, tenant_id=tenant.id, start=period.start, end=period.end
        )
    else:
        known = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)
        unknown = [
            FieldError(f"reps[{i}]", msg("incentives.rep.not_in_org", rep=rep))
            for i, rep in enumerate(reps)
            if rep not in known
        ]
        if unknown:
            raise InvalidInput(msg("incentives.rep.unknowns"), fields=unknown[:20])
        reps = sorted(set(reps))
    as_of = datetime.combine(period.end, datetime.min.time(), ZoneInfo(tenant.timezone))
    month = await reader.read_earnings(
        session,
        tenant=tenant,
        reps=reps,
        period=period,
        as_of=as_of,
        known=close.closed_at,
        targets_at=close.closed_at,
    )
    existing = {
        s.rep_id: s for s in await repo.statements(session, tenant_id=tenant.id, period=period.key)
    }
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=reps)
    out = []
    for rep in sorted(reps):
        r = month.reps[rep]
        rep_out = _rep_out(month, rep, names, tenant.currency)
        lines = [ln.model_dump(mode="json") for ln in rep_out.lines]
        plans = [p.model_dump(mode="json") for p in rep_out.plans]
        row = existing.get(rep)
        if row is not None and row.status != "draft":
            out.append(_statement_out(row, names))
            continue
        if row is None:
            row = IncentiveStatement(
                tenant_id=tenant.id, rep_id=rep, period=period.key, status="draft", note=""
            )
            session.add(row)
        row.currency = tenant.currency
        row.total = str(r.earned.total)
        row.lines = lines
        row.plans = plans
        row.known_at = close.closed_at
        row.generated_at = now
        row.generated_by = auditor.actor
        await session.flush()
        out.append(_statement_out(row, names))
    await auditor.record(
        "incentives.statements_generate",
        target=f"period:{period.key}",
        after={"reps": len(out), "known_at": close.closed_at.isoformat()},
    )
    return StatementsOut(period=period.key, statements=out, total=sum((s.total for s in out), ZERO))


async def list_statements(
    session: AsyncSession,
    *,
    tenant: Tenant,
    period: str | None,
    rep: str | None,
    status: str | None,
) -> StatementsOut:
    """Statements, optionally of one month, rep or status."""
    rows = await repo.statements(
        session, tenant_id=tenant.id, period=period, rep=rep, status=status
    )
    names = await org.rep_names(
        session, tenant_id=tenant.id, rep_ids=sorted({r.rep_id for r in rows})
    )
    outs = [_statement_out(r, names) for r in rows]
    return StatementsOut(period=period, statements=outs, total=sum((s.total for s in outs), ZERO))


async def get_statement(
    session: AsyncSession, *, tenant: Tenant, statement_id: int
) -> StatementOut:
    """One statement."""
    row = await repo.get_statement(session, tenant_id=tenant.id, statement_id=statement_id)
    if row is None:
        raise NotFound(msg("incentives.statement.not_found", id=str(statement_id)))
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=[row.rep_id])
    return _statement_out(row, names)


_NEXT = {"approve": ("draft", "approved"), "pay": ("approved", "paid")}


def status_label(status: str) -> Msg:
    """A statement's status as people read it (草稿, 已审批, 已发放)."""
    return msg(f"incentives.status.{status}")


async def advance_statement(
    session: AsyncSession,
    *,
    tenant: Tenant,
    statement_id: int,
    action: str,
    note: str,
    now: datetime,
    auditor: Auditor,
) -> StatementOut:
    """Approve a draft or mark an approved statement paid (409 from any other status)."""
    row = await repo.get_statement(
        session, tenant_id=tenant.id, statement_id=statement_id, for_update=True
    )
    if row is None:
        raise NotFound(msg("incentives.statement.not_found", id=str(statement_id)))
    src, dst = _NEXT[action]
    if row.status != src:
        params = {"id": str(statement_id), "status": status_label(row.status)}
        raise Conflict(
            msg("incentives.statement.approve_needs_draft", **params)
            if action == "approve"
            else msg("incentives.statement.pay_needs_approved", **params)
        )
    before = {"status": row.status}
    row.status = dst
    if action == "approve":
        row.approved_at, row.approved_by = now, auditor.actor
    else:
        row.paid_at, row.paid_by = now, auditor.actor
    if note:
        row.note = note
    await session.flush()
    await auditor.record(
        f"incentives.statement_{action}",
        target=f"statement:{statement_id}",
        before=before,
        after={"status": dst, "rep": row.rep_id, "period": row.period, "total": row.total},
    )
    names = await org.rep_names(session, tenant_id=tenant.id, rep_ids=[row.rep_id])
    return _statement_out(row, names)


PAYROLL_COLUMNS = (
    "period",
    "rep_id",
    "rep_name",
    "currency",
    "amount",
    "status",
    "statement_id",
    "approved_by",
    "approved_at",
    "paid_at",
)


async def payroll_rows(
    session: AsyncSession, *, tenant: Tenant, period: str
) -> list[dict[str, Any]]:
    """One row per approved or paid statement of a month (drafts are not paid)."""
    month = month_or_422(period, tenant)
    rows = [
        r
        for r in await repo.statements(session, tenant_id=tenant.id, period=month.key)
        if r.status in ("approved", "paid")
    ]
    names = await org.rep_names(
        session, tenant_id=tenant.id, rep_ids=sorted({r.rep_id for r in rows})
    )
    return [
        {
            "period": r.period,
            "rep_id": r.rep_id,
            "rep_name": names.get(r.rep_id, ""),
            "currency": r.currency,
            "amount": r.total,
            "status": r.status,
            "statement_id": r.id,
            "approved_by": r.approved_by or "",
            "approved_at": r.approved_at.isoformat() if r.approved_at else "",
            "paid_at": r.paid_at.isoformat() if r.paid_at else "",
        }
        for r in rows
    ]


STATEMENT_COLUMNS = (
    "statement_id",
    "period",
    "rep_id",
    "kind",
    "component",
    "plan",
    "plan_version",
    "start",
    "end",
    "basis",
    "base",
    "attainment",
    "rate",
    "factor",
    "amount",
    "currency",
    "source_period",
)


def statement_rows(s: StatementOut) -> list[dict[str, Any]]:
    """A statement's lines as CSV rows (payroll detail)."""
    return [
        {
            "statement_id": s.id,
            "period": s.period,
            "rep_id": s.rep,
            "kind": ln.kind,
            "component": ln.component,
            "plan": ln.plan,
            "plan_version": ln.version,
            "start": ln.start.isoformat() if ln.start else "",
            "end": ln.end.isoformat() if ln.end else "",
            "basis": ln.basis,
            "base": "" if ln.base is None else str(ln.base),
            "attainment": "" if ln.attainment is None else str(ln.attainment),
            "rate": "" if ln.rate is None else str(ln.rate),
            "factor": str(ln.factor),
            "amount": str(ln.amount),
            "currency": s.currency,
            "source_period": ln.source_period or "",
        }
        for ln in s.lines
    ]


def reps_of(statements: Sequence[StatementOut]) -> list[str]:
    """The reps of some statements."""
    return sorted({s.rep for s in statements})
