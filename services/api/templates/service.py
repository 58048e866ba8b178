"""Role templates: the built-in three (60/30/10) and a tenant's own."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.templates import repository as repo
from paceline.api.templates.schemas import TemplateIn, TemplateItemIO, TemplateOut
from paceline.shared.db.context import find_kpi
from paceline.shared.db.models import RoleTemplateRow
from paceline.shared.errors import Conflict, FieldError, InvalidInput, NotFound
from paceline.shared.i18n import DEFAULT_LOCALE, Msg, msg
from paceline.shared.kpi.scorecards import (
    BUILTIN_TEMPLATE_BY_KEY,
    BUILTIN_TEMPLATES,
    RoleTemplate,
    TemplateItem,
)
from paceline.shared.readmodel.templates import template_from_row


def not_found(key: str) -> NotFound:
    """404: no template of this key."""
    return NotFound(msg("templates.not_found", key=key))


def weight_problems(items: list[TemplateItem]) -> list[Msg]:
    """Problems with a template's items: a KPI twice, weights not summing to 100, a weight
    not above zero."""
    problems = []
    keys = [i.kpi for i in items]
    if len(set(keys)) != len(keys):
        problems.append(msg("templates.errors.duplicate_kpi"))
    total = sum((i.weight for i in items), Decimal(0))
    if total != 100:
        problems.append(msg("templates.errors.weights_sum", total=total.normalize()))
    if any(i.weight <= 0 for i in items):
        problems.append(msg("templates.errors.weights_positive"))
    return problems


async def template_out(
    session: AsyncSession, tenant_id: str, t: RoleTemplate, locale: str = DEFAULT_LOCALE
) -> TemplateOut:
    """A template with each KPI's category and the category mix (its name in ``locale``)."""
    items = []
    mix = {"result": Decimal(0), "process": Decimal(0), "capability": Decimal(0)}
    for i in t.items:
        kpi = await find_kpi(session, tenant_id=tenant_id, key=i.kpi)
        category = kpi.category if kpi is not None else None
        if category is not None:
            mix[category] += i.weight
        items.append(TemplateItemIO(kpi=i.kpi, weight=i.weight, category=category))
    return TemplateOut(
        key=t.key,
        name=t.name_en if locale == "en" else t.name_zh,
        names={"zh-CN": t.name_zh, "en": t.name_en},
        builtin=t.builtin,
        items=items,
        mix=mix,
    )


async def list_templates(
    session: AsyncSession, *, tenant_id: str, locale: str = DEFAULT_LOCALE
) -> list[TemplateOut]:
    """Built-in templates, then the tenant's."""
    rows = await repo.custom_rows(session, tenant_id=tenant_id)
    custom = {r.key: template_from_row(r) for r in rows}
    out = [
        await template_out(session, tenant_id, custom.pop(t.key, t), locale)
        for t in BUILTIN_TEMPLATES
    ]
    out += [await template_out(session, tenant_id, t, locale) for t in custom.values()]
    return out


async def put_template(
    session: AsyncSession,
    *,
    tenant_id: str,
    key: str,
    body: TemplateIn,
    now: datetime,
    locale: str = DEFAULT_LOCALE,
) -> TemplateOut:
    """Create or replace a custom template (a built-in key makes a tenant-specific version)."""
    errors = []
    for n, item in enumerate(body.items):
        if await find_kpi(session, tenant_id=tenant_id, key=item.kpi) is None:
            errors.append(
                FieldError(f"items[{n}].kpi", msg("targets.errors.unknown_kpi", kpi=item.kpi))
            )
    items = [TemplateItem(i.kpi, i.weight) for i in body.items]
    errors += [FieldError("items", p) for p in weight_problems(items)]
    if errors:
        raise InvalidInput(msg("templates.errors.invalid"), fields=errors)
    row = await session.get(RoleTemplateRow, (tenant_id, key))
    data = [{"kpi": i.kpi, "weight": str(i.weight)} for i in body.items]
    if row is None:
        row = RoleTemplateRow(
            tenant_id=tenant_id,
            key=key,
            name_zh=body.name_zh,
            name_en=body.name_en,
            items=data,
            updated_at=now,
        )
        session.add(row)
    else:
        row.name_zh, row.name_en, row.items, row.updated_at = body.name_zh, body.name_en, data, now
    await session.flush()
    return await template_out(session, tenant_id, template_from_row(row), locale)


async def delete_template(session: AsyncSession, *, tenant_id: str, key: str) -> None:
    """Remove a custom template (a built-in one comes back if it was overridden)."""
    row = await session.get(RoleTemplateRow, (tenant_id, key))
    if row is None:
        if key in BUILTIN_TEMPLATE_BY_KEY:
            raise Conflict(msg("templates.errors.builtin", key=key))
        raise not_found(key)
    await session.delete(row)
    await session.flush()
