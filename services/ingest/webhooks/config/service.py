"""Connector configuration: create, replace, map, rotate, delete (audited; secrets sealed)."""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from paceline.ingest.webhooks import repository as repo
from paceline.ingest.webhooks.adapters import ADAPTERS, adapter_for, default_adapter
from paceline.ingest.webhooks.base import Adapter
from paceline.ingest.webhooks.config.schemas import (
    AdapterOption,
    AdapterOut,
    ConnectorIn,
    ConnectorOut,
    PresetOut,
    RotateIn,
)
from paceline.ingest.webhooks.generic import FORMATS, SCHEMES
from paceline.ingest.webhooks.mapping import Mapping
from paceline.ingest.webhooks.presets import PRESETS, preset
from paceline.shared.crypto import SecretBox
from paceline.shared.db.models_webhooks import WebhookConnector
from paceline.shared.errors import FieldError, InvalidInput, NotFound
from paceline.shared.i18n import Code, Msg, OneOf, msg, params_json, render
from paceline.shared.outbound import destination_problem, literal_private_host, url_problem
from paceline.shared.web.deps import REDACTED, Auditor


def new_endpoint_id() -> str:
    """An unguessable endpoint id (192 random bits, URL-safe)."""
    return pysecrets.token_urlsafe(24)


def to_out(row: WebhookConnector, generated: dict[str, str] | None = None) -> ConnectorOut:
    """The API form of a connector (secrets redacted)."""
    return ConnectorOut(
        source=row.source,
        adapter=row.adapter,
        enabled=row.enabled,
        endpoint_id=row.endpoint_id,
        webhook_path=f"/v1/webhooks/{row.source}?endpoint={row.endpoint_id}",
        settings=dict(row.settings or {}),
        secrets={name: REDACTED for name in sorted(row.secrets or {})},
        mapping=Mapping.model_validate(row.mapping or {}),
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        generated_secrets=generated or None,
    )


def _audit_view(row: WebhookConnector) -> dict[str, Any]:
    return {
        "adapter": row.adapter,
        "enabled": row.enabled,
        "endpoint_id": row.endpoint_id,
        "settings": dict(row.settings or {}),
        "secrets": sorted(row.secrets or {}),
        "mapping": row.mapping,
        "revision": row.revision,
    }


def adapters(locale: str) -> list[AdapterOut]:
    """Every adapter with its options and default mapping, its words in ``locale``."""
    return [
        AdapterOut(
            name=a.name,
            title=render(a.title_msg(), locale),
            title_code=a.title_msg().code,
            title_params=params_json(a.title_msg().params),
            docs=list(a.docs),
            options=[
                AdapterOption(
                    name=o.name,
                    description=render(o.description, locale),
                    description_code=o.description.code,
                    description_params=params_json(o.description.params),
                    secret=o.secret,
                    required=o.required,
                    generated=o.generated,
                )
                for o in a.options
            ],
            default_mapping=Mapping.model_validate(a.default_mapping()),
            presets=[
                PresetOut(
                    name=p.name,
                    title=render(p.title, locale),
                    title_code=p.title.code,
                    title_params=params_json(p.title.params),
                    docs=list(p.docs),
                    objects=p.objects,
                    notes=render(p.notes, locale) if p.notes is not None else "",
                    notes_code=p.notes.code if p.notes is not None else None,
                    notes_params=params_json(p.notes.params) if p.notes is not None else {},
                    settings=p.settings,
                    mapping=Mapping.model_validate(p.mapping),
                )
                for p in PRESETS.values()
            ]
            if a.name == "generic"
            else [],
        )
        for a in ADAPTERS.values()
    ]


# Settings that name a URL Paceline calls (the tenant's choice: checked like a subscriber's).
URL_SETTINGS = frozenset({"api_base", "instance_url", "accounts_url"})


def _check(
    adapter: Adapter, body: ConnectorIn, stored_secrets: set[str], *, allow_private: bool
) -> None:
    settings = {o.name for o in adapter.options if not o.secret}
    secret_names = {o.name for o in adapter.options if o.secret}
    vendor = Code(adapter.name)
    errors = [
        FieldError(f"settings.{k}", msg("webhooks.config.not_a_setting", adapter=vendor))
        for k in sorted(set(body.settings) - settings)
    ]
    errors += [
        FieldError(f"secrets.{k}", msg("webhooks.config.not_a_secret", adapter=vendor))
        for k in sorted(set(body.secrets) - secret_names)
    ]
    errors += [
        FieldError(f"secrets.{k}", msg("webhooks.config.empty"))
        for k, v in body.secrets.items()
        if not v
    ]
    for o in adapter.options:
        if not o.required or o.generated:
            continue
        if o.secret and o.name not in body.secrets and o.name not in stored_secrets:
            errors.append(FieldError(f"secrets.{o.name}", msg("webhooks.config.required")))
        if not o.secret and body.settings.get(o.name) in (None, ""):
            errors.append(FieldError(f"settings.{o.name}", msg("webhooks.config.required")))
    for name in sorted(URL_SETTINGS & settings):
        value = body.settings.get(name)
        if value in (None, ""):
            continue
        problem = _url_problem(value, allow_private=allow_private)
        if problem is not None:
            errors.append(FieldError(f"settings.{name}", problem))
    if adapter.name == "generic":
        fmt = body.settings.get("format", "canonical")
        if fmt not in FORMATS:
            errors.append(FieldError("settings.format", _one_of(FORMATS)))
        scheme = body.settings.get("signature", "standard_webhooks")
        if scheme not in SCHEMES:
            errors.append(FieldError("settings.signature", _one_of(SCHEMES)))
        chosen = body.settings.get("preset")
        if chosen is not None and preset(str(chosen)) is None:
            errors.append(FieldError("settings.preset", _one_of(sorted(PRESETS))))
        zone = body.settings.get("version_tz")
        if zone is not None:
            try:
                ZoneInfo(str(zone))
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(
                    FieldError(
                        "settings.version_tz",
                        msg("webhooks.config.time_zone", zone=Code(str(zone)[:100])),
                    )
                )
    if errors:
        raise InvalidInput(_not_valid(errors), fields=errors)


def _one_of(choices: Sequence[str]) -> Msg:
    return msg("webhooks.config.one_of", choices=OneOf([Code(c) for c in choices]))


def _url_problem(value: object, *, allow_private: bool) -> Msg | None:
    """Why Paceline must not call the URL a setting names (None if it may), in words of
    the catalog (shared.outbound says why in English; its verdict decides)."""
    if not isinstance(value, str):
        return msg("webhooks.config.url_not_text")
    if destination_problem(value, allow_private=allow_private) is None:
        return None
    if url_problem(value) is None and (host := literal_private_host(value)) is not None:
        return msg("webhooks.config.url_private", host=Code(host))
    return msg("webhooks.config.url_malformed", url=Code(value[:200]))


def _not_valid(errors: list[FieldError]) -> Msg:
    """The error's message: the first problem, and how many more the fields list."""
    first = errors[0]
    reason = first.reason if isinstance(first.reason, Msg) else str(first.reason)
    if len(errors) == 1:
        return msg("webhooks.config.invalid", field=Code(first.field), reason=reason)
    return msg(
        "webhooks.config.invalid_more",
        field=Code(first.field),
        reason=reason,
        more=len(errors) - 1,
    )


def _no_connector(source: str) -> NotFound:
    return NotFound(msg("webhooks.config.not_found", source=Code(source)))


async def get(session: AsyncSession, *, tenant_id: str, source: str) -> WebhookConnector:
    """A connector, or 404."""
    row = await repo.connector(session, tenant_id=tenant_id, source=source)
    if row is None:
        raise _no_connector(source)
    return row


async def put(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    body: ConnectorIn,
    box: SecretBox,
    auditor: Auditor,
    now: datetime,
    allow_private: bool,
) -> tuple[ConnectorOut, bool]:
    """Create or replace a connector; (the connector, created?). ``allow_private``: whether
    a URL setting (``api_base``) may name a non-public host."""
    row = await repo.connector(session, tenant_id=tenant_id, source=source, for_update=True)
    name = body.adapter or (row.adapter if row is not None else default_adapter(source))
    if name not in ADAPTERS:
        raise InvalidInput(
            msg("webhooks.config.unknown_adapter", adapter=Code(name[:100])),
            fields=[FieldError("adapter", _one_of(sorted(ADAPTERS)))],
        )
    adapter = adapter_for(name)
    stored = dict(row.secrets or {}) if row is not None and row.adapter == name else {}
    _check(adapter, body, set(stored), allow_private=allow_private)
    chosen = preset(str(body.settings["preset"])) if body.settings.get("preset") else None
    if chosen is not None:
        # The preset's settings under the ones given; its mapping unless one is given or
        # the connector already has this preset's (perhaps edited) mapping.
        same = row is not None and (row.settings or {}).get("preset") == chosen.name
        body = body.model_copy(
            update={
                "settings": {**chosen.settings, **body.settings},
                "mapping": body.mapping
                if body.mapping is not None or same
                else Mapping.model_validate(chosen.mapping),
            }
        )
    sealed = dict(stored)
    for key, value in body.secrets.items():
        sealed[key] = box.encrypt(value)
    generated: dict[str, str] = {}
    for o in adapter.options:
        if o.secret and o.generated and o.name not in sealed:
            generated[o.name] = adapter.generate_secret(o.name)
            sealed[o.name] = box.encrypt(generated[o.name])
    if body.mapping is not None:
        mapping = body.mapping.model_dump(mode="json", exclude_none=True)
    elif row is not None and row.adapter == name:
        mapping = row.mapping
    else:
        mapping = Mapping.model_validate(adapter.default_mapping()).model_dump(
            mode="json", exclude_none=True
        )
    before = _audit_view(row) if row is not None else None
    created = row is None
    if row is None:
        row = WebhookConnector(
            tenant_id=tenant_id,
            source=source,
            endpoint_id=new_endpoint_id(),
            revision=0,
            created_at=now,
        )
        session.add(row)
    row.adapter = name
    row.enabled = body.enabled
    row.settings = dict(body.settings)
    row.secrets = sealed
    row.mapping = mapping
    row.revision = (row.revision or 0) + 1
    row.updated_at = now
    await session.flush()
    await auditor.record(
        "connectors.create" if created else "connectors.update",
        target=f"connector:{source}",
        before=before,
        after=_audit_view(row),
        tenant_id=tenant_id,
    )
    return to_out(row, generated), created


async def put_mapping(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    mapping: Mapping,
    auditor: Auditor,
    now: datetime,
) -> Mapping:
    """Replace a connector's mapping (pending quarantine items can then be replayed)."""
    row = await repo.connector(session, tenant_id=tenant_id, source=source, for_update=True)
    if row is None:
        raise _no_connector(source)
    before = {"mapping": row.mapping, "revision": row.revision}
    row.mapping = mapping.model_dump(mode="json", exclude_none=True)
    row.revision += 1
    row.updated_at = now
    await session.flush()
    await auditor.record(
        "connectors.mapping",
        target=f"connector:{source}",
        before=before,
        after={"mapping": row.mapping, "revision": row.revision},
        tenant_id=tenant_id,
    )
    return Mapping.model_validate(row.mapping)


async def rotate(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    body: RotateIn,
    box: SecretBox,
    auditor: Auditor,
    now: datetime,
) -> ConnectorOut:
    """A new endpoint id and/or new generated secrets (returned once)."""
    row = await repo.connector(session, tenant_id=tenant_id, source=source, for_update=True)
    if row is None:
        raise _no_connector(source)
    adapter = adapter_for(row.adapter)
    generable = {o.name for o in adapter.options if o.secret and o.generated}
    wrong = sorted(set(body.secrets) - generable)
    if wrong:
        raise InvalidInput(
            msg("webhooks.config.rotate_generated_only"),
            fields=[
                FieldError(
                    f"secrets.{w}",
                    _one_of(sorted(generable))
                    if generable
                    else msg("webhooks.config.none_generated", adapter=Code(adapter.name)),
                )
                for w in wrong
            ],
        )
    before = _audit_view(row)
    if body.endpoint:
        row.endpoint_id = new_endpoint_id()
    generated = {}
    sealed = dict(row.secrets or {})
    for name in body.secrets:
        generated[name] = adapter.generate_secret(name)
        sealed[name] = box.encrypt(generated[name])
    row.secrets = sealed
    row.revision += 1
    row.updated_at = now
    await session.flush()
    await auditor.record(
        "connectors.rotate",
        target=f"connector:{source}",
        before=before,
        after=_audit_view(row),
        tenant_id=tenant_id,
    )
    return to_out(row, generated)


async def delete(
    session: AsyncSession,
    *,
    tenant_id: str,
    source: str,
    auditor: Auditor,
    now: datetime,
) -> None:
    """Delete a connector (its endpoint stops; snapshots and quarantine stay)."""
    row = await repo.connector(session, tenant_id=tenant_id, source=source, for_update=True)
    if row is None:
        raise _no_connector(source)
    before = _audit_view(row)
    await session.delete(row)
    await session.flush()
    await auditor.record(
        "connectors.delete",
        target=f"connector:{source}",
        before=before,
        tenant_id=tenant_id,
    )
