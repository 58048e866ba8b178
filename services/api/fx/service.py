"""Store, import, list and remove exchange rates; a change that moves facts rebuilds them.

A rate is units of the tenant currency per unit of another currency, from its day on;
the scoring service values an amount at the latest rate dated on or before the amount's
day, if that rate is at most 31 days old (:class:`paceline.shared.kpi.records.FxTable`).
Every change of the rates table therefore bumps ``tenant.updated_at`` (the scoring
worker caches tenant contexts by it) and enqueues a ``rebuild_facts`` job, in the
request's transaction. Adding or changing rates also resolves the
``missing_fx_rate:<currency>`` alerts of those currencies: the rebuild is meant to raise
them again where amounts still lack a rate. Sending rates that are already stored changes
nothing and starts no rebuild.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from paceline.api.fx import repository as repo
from paceline.api.fx.schemas import (
    FxDeleteOut,
    FxImportOut,
    FxRateIn,
    FxRateOut,
    FxRatesIn,
    FxUpsertOut,
    Rejection,
    check_currency,
)
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.jobs import enqueue_job
from paceline.shared.db.lifecycle import resolve_alerts
from paceline.shared.db.models import Tenant
from paceline.shared.errors import (
    FieldError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from paceline.shared.i18n import Invalid, Msg, msg
from paceline.shared.web.errors import reason_of

MAX_IMPORT_ROWS = 100_000
CSV_MEDIA_TYPE = "text/csv"

# Header names (lower-case) accepted for each column.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "currency": ("currency", "币种", "货币"),
    "day": ("day", "date", "日期"),
    "rate": ("rate", "汇率"),
}


async def tenant_for_update(session: AsyncSession, *, tenant_id: str) -> Tenant:
    """The caller's tenant, loaded in the write transaction."""
    tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
    if tenant is None:
        raise NotFound(msg("errors.tenant.gone"))
    return tenant


def parse_currency(value: str, *, field: str = "currency") -> str:
    """A currency from a path or query parameter; 422 naming ``field`` if it is not one."""
    try:
        return check_currency(value)
    except Invalid as exc:
        raise InvalidInput(
            msg("errors.field_reason", field=field, reason=exc.msg),
            fields=[FieldError(field, exc.msg)],
        ) from None


def _out(row: object) -> FxRateOut:
    return FxRateOut.model_validate(row, from_attributes=True)


async def list_rates(
    session: AsyncSession,
    *,
    tenant_id: str,
    currency: str | None,
    start: date | None,
    end: date | None,
) -> list[FxRateOut]:
    """A tenant's rates by currency and day, optionally of one currency and in [start, end)."""
    if start is not None and end is not None and end <= start:
        reason = msg("fx.to_after_from")
        raise InvalidInput(
            msg("errors.field_reason", field="to", reason=reason), fields=[FieldError("to", reason)]
        )
    code = parse_currency(currency) if currency is not None else None
    rows = await repo.list_rates(session, tenant_id=tenant_id, currency=code, start=start, end=end)
    return [_out(r) for r in rows]


async def _facts_moved(
    session: AsyncSession, *, tenant: Tenant, resolve: Collection[str], now: datetime
) -> int:
    """Make the scoring worker reload the tenant and rebuild its facts; the job id."""
    tenant.updated_at = now
    job = await enqueue_job(session, tenant_id=tenant.id, kind="rebuild_facts", now=now)
    await resolve_alerts(
        session,
        tenant_id=tenant.id,
        dedup_keys=[f"missing_fx_rate:{c}" for c in sorted(resolve)],
        now=now,
    )
    await session.flush()
    return job.id


async def _store(
    session: AsyncSession, *, tenant: Tenant, rates: Sequence[FxRateIn], now: datetime
) -> FxUpsertOut:
    """Upsert valid, distinct rates; rebuild facts only if a stored rate changed."""
    if not rates:
        return FxUpsertOut(upserted=0, unchanged=0, rebuild_job_id=None)
    currencies = {r.currency for r in rates}
    stored = await repo.stored_rates(
        session,
        tenant_id=tenant.id,
        currencies=currencies,
        start=min(r.day for r in rates),
        end=max(r.day for r in rates),
    )
    changed = [
        (r.currency, r.day, r.rate) for r in rates if stored.get((r.currency, r.day)) != r.rate
    ]
    unchanged = len(rates) - len(changed)
    if not changed:
        return FxUpsertOut(upserted=0, unchanged=unchanged, rebuild_job_id=None)
    await repo.upsert_rates(session, tenant_id=tenant.id, rates=changed, now=now)
    job_id = await _facts_moved(
        session, tenant=tenant, resolve={c for c, _d, _r in changed}, now=now
    )
    return FxUpsertOut(upserted=len(changed), unchanged=unchanged, rebuild_job_id=job_id)


def _tenant_currency_reason(currency: str) -> Msg:
    return msg("fx.tenant_currency", currency=currency)


async def put_rates(
    session: AsyncSession, *, tenant: Tenant, body: FxRatesIn, now: datetime
) -> FxUpsertOut:
    """Store the given rates (all or none); 422 naming ``rates[i].field`` for bad ones."""
    errors: list[FieldError] = []
    first: dict[tuple[str, date], int] = {}
    for i, r in enumerate(body.rates):
        if r.currency == tenant.currency:
            errors.append(
                FieldError(f"rates[{i}].currency", _tenant_currency_reason(tenant.currency))
            )
        key = (r.currency, r.day)
        if key in first:
            errors.append(
                FieldError(f"rates[{i}].day", msg("fx.duplicate", field=f"rates[{first[key]}]"))
            )
        first.setdefault(key, i)
    if errors:
        raise InvalidInput(
            msg(
                "fx.rates_invalid",
                fields=[
                    msg("errors.field_reason", field=e.field, reason=e.reason) for e in errors[:3]
                ],
            ),
            fields=errors,
        )
    return await _store(session, tenant=tenant, rates=body.rates, now=now)


def decode_csv(body: bytes, content_type: str | None) -> str:
    """The text of a CSV body: 415 unless text/csv; UTF-8 (a BOM is dropped) unless a
    charset is given."""
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != CSV_MEDIA_TYPE:
        raise UnsupportedMediaType(msg("fx.csv_media_type"))
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        raise UnsupportedMediaType(msg("fx.unknown_charset", charset=repr(charset))) from None
    try:
        text = body.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as exc:
        reason = msg("fx.file_encoding", charset=charset, byte=str(exc.start))
        raise InvalidInput(
            msg("fx.file_invalid", reason=reason), fields=[FieldError("(body)", reason)]
        ) from None
    return text.removeprefix("\ufeff")


def _records(text: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """CSV records with the 1-based line each starts on (or the error that line raised)."""
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = ";" if ";" in first_line else "\t" if "\t" in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, exc
            continue
        yield start, row


def parse_csv(
    text: str, *, tenant_currency: str, max_rows: int = MAX_IMPORT_ROWS
) -> tuple[list[FxRateIn], list[Rejection]]:
    """Rates from CSV text, and the rows rejected (by line, field and reason)."""
    records = _records(text)
    header: list[str] | None = None
    for _line, rec in records:
        if isinstance(rec, csv.Error):
            raise InvalidInput(
                msg("fx.header_not_csv", error=str(rec)),
                fields=[FieldError("header", msg("fx.row_not_csv", error=str(rec)))],
            )
        if any(cell.strip() for cell in rec):
            header = [cell.strip().lower() for cell in rec]
            break
    if header is None:
        raise InvalidInput(
            msg("fx.file_empty"), fields=[FieldError("(body)", msg("fx.no_header_no_rows"))]
        )
    columns: dict[str, int] = {}
    for name, aliases in _COLUMNS.items():
        found = next((header.index(a) for a in aliases if a in header), None)
        if found is None:
            reason = msg("fx.header_missing_column", column=repr(name))
            raise InvalidInput(
                msg("fx.header_invalid", reason=reason), fields=[FieldError("header", reason)]
            )
        columns[name] = found

    good: list[FxRateIn] = []
    rejected: list[Rejection] = []
    first_line: dict[tuple[str, date], int] = {}
    rows = 0
    for line, rec in records:
        if isinstance(rec, csv.Error):
            rejected.append(Rejection(line, "(row)", msg("fx.row_not_csv", error=str(rec))))
            continue
        if not any(cell.strip() for cell in rec):
            continue  # blank lines and the empty rows spreadsheets leave at the end
        rows += 1
        if rows > max_rows:
            raise PayloadTooLarge(msg("fx.too_many_rows", max=max_rows))
        values = {n: rec[i].strip() if i < len(rec) else "" for n, i in columns.items()}
        problems: list[tuple[str, Msg]] = [
            (n, msg("fx.cell_empty")) for n, v in values.items() if not v
        ]
        item: FxRateIn | None = None
        try:
            item = FxRateIn.model_validate(values)
        except ValidationError as exc:
            for e in exc.errors():
                name = str(e["loc"][0]) if e["loc"] else "(row)"
                if not values.get(name):
                    continue  # already reported as empty
                problems.append((name, reason_of(e)))
        if item is not None and item.currency == tenant_currency:
            problems.append(("currency", _tenant_currency_reason(tenant_currency)))
        if item is not None and not problems:
            key = (item.currency, item.day)
            if key in first_line:
                problems.append(
                    (
                        "day",
                        msg(
                            "fx.day_duplicate",
                            currency=item.currency,
                            day=item.day,
                            line=str(first_line[key]),
                        ),
                    )
                )
            else:
                first_line[key] = line
        if problems:
            order = list(_COLUMNS)
            for name, reason in sorted(
                problems, key=lambda p: order.index(p[0]) if p[0] in order else len(order)
            ):
                rejected.append(Rejection(line, name, reason))
            continue
        assert item is not None
        good.append(item)
    if rows == 0:
        raise InvalidInput(
            msg("fx.no_rows"), fields=[FieldError("(body)", msg("fx.header_no_rows"))]
        )
    return good, rejected


async def import_csv(
    session: AsyncSession,
    *,
    tenant: Tenant,
    body: bytes,
    content_type: str | None,
    now: datetime,
    locale: str,
) -> FxImportOut:
    """Store the good rows of a CSV file and name the bad ones (their reasons in
    ``locale``); 422 if none is good."""
    good, rejected = parse_csv(decode_csv(body, content_type), tenant_currency=tenant.currency)
    if not good:
        fields = [FieldError(f"line[{r.row}].{r.field}", r.reason) for r in rejected]
        raise InvalidInput(
            msg(
                "fx.no_valid_row",
                rows=[
                    msg("fx.line_reason", line=str(r.row), field=r.field, reason=r.reason)
                    for r in rejected[:3]
                ],
            ),
            fields=fields,
        )
    stored = await _store(session, tenant=tenant, rates=good, now=now)
    return FxImportOut(**stored.model_dump(), rejected=[r.out(locale) for r in rejected])


async def delete_rate(
    session: AsyncSession, *, tenant: Tenant, currency: str, day: date, now: datetime
) -> FxDeleteOut:
    """Remove one rate (404 if absent) and rebuild the facts that used it."""
    code = parse_currency(currency)
    if not await repo.delete_rate(session, tenant_id=tenant.id, currency=code, day=day):
        raise NotFound(msg("fx.not_found", currency=code, day=day))
    job_id = await _facts_moved(session, tenant=tenant, resolve=(), now=now)
    return FxDeleteOut(currency=code, day=day, rebuild_job_id=job_id)
