"""What every CRM adapter provides, and the values they pass around.

An adapter, per vendor:

1. ``verify`` — checks the vendor's signature or credentials (401 and nothing stored when
   they fail);
2. ``items`` — splits a verified body into vendor items (one HubSpot event of a batch, one
   Salesforce notification, one Pipedrive delivery...). Each item is JSON kept as received,
   with a stable key; it is the unit the quarantine keeps and replays;
3. ``records`` — reads an item into :class:`VendorRecord` values (may call the CRM's API
   to enrich an id-only payload); raises :class:`ItemError` when the item cannot be read;
4. ``respond`` — the answer the vendor expects (JSON by default; Salesforce wants a SOAP
   acknowledgement).

Adapters never touch the database or the event log: the webhook service does.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx
from fastapi import Response

from paceline.ingest.webhooks.mapping import Mapping as FieldMapping
from paceline.ingest.webhooks.vendor_records import VendorRecord
from paceline.shared.i18n import Msg


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A webhook request as the adapter sees it."""

    method: str
    url: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-case."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True, slots=True)
class Connector:
    """A tenant's connector, secrets decrypted (lives only for one request)."""

    tenant_id: str
    source: str
    adapter: str
    settings: Mapping[str, Any]
    secrets: Mapping[str, str]
    mapping: FieldMapping

    def secret(self, name: str) -> str | None:
        """A plaintext secret, if configured."""
        return self.secrets.get(name)


@dataclass(frozen=True, slots=True)
class Item:
    """One vendor item: the unit kept and replayed by the quarantine."""

    key: str
    data: dict[str, Any]
    object_type: str | None = None
    record_id: str | None = None


@dataclass(frozen=True, slots=True)
class Hint:
    """What would fix an item: ``credential_missing`` / ``credential_rejected`` with
    ``vendor`` and ``credential`` (the catalog's ``webhooks.fix.<code>``)."""

    code: str
    params: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"code": self.code, "params": dict(self.params)}

    def msg(self) -> Msg:
        """The hint as a catalog message."""
        return hint_msg(self.code, self.params)


def hint_msg(code: str, params: Mapping[str, Any]) -> Msg:
    """The catalog message of a hint's code (``credential_missing`` ...)."""
    return Msg(f"webhooks.fix.{code}", dict(params))


@dataclass(slots=True)
class AdapterContext:
    """What adapters may use while reading items: the clock's time and an HTTP client.

    ``notes`` (catalog messages) and ``hints`` (codes) are per item; ``extras`` lasts for the
    request (the enrichment's rate-limit wait budget).
    """

    now: datetime
    http: httpx.AsyncClient | None = None
    notes: list[Msg] = field(default_factory=list)
    hints: list[Hint] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    cache: Any = None  # the process's enrichment.RecordCache (None: no caching)


class ItemError(Exception):
    """An item that cannot be read (kept in the quarantine with this code and reason)."""

    def __init__(
        self,
        code: str,
        reason: Msg,
        *,
        object_type: str | None = None,
        record_id: str | None = None,
    ) -> None:
        super().__init__(str(reason))
        self.code = code
        self.reason = reason
        self.object_type = object_type
        self.record_id = record_id


class Unparseable(Exception):
    """A verified body that cannot be split into items (quarantined whole)."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """A connector setting or secret an adapter understands."""

    name: str
    description: Msg  # what it is, from the ingest catalog (webhooks.adapter.<adapter>.<name>)
    secret: bool = False
    required: bool = False
    generated: bool = False  # made up by Paceline when not given (returned once)


class Adapter:
    """Base of the CRM adapters."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    docs: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[SettingSpec, ...]] = ()
    # The secrets that let the adapter read records through the vendor's API.
    enrichment_credentials: ClassVar[tuple[str, ...]] = ()

    def title_msg(self) -> Msg:
        """The adapter's title for people: a vendor's brand name stays as it is."""
        return Msg("webhooks.adapter.vendor", {"vendor": self.title})

    def default_mapping(self) -> dict[str, Any]:
        """The mapping that works for a standard setup of the CRM."""
        return {}

    def generate_secret(self, name: str) -> str:
        """A new random value for a generated secret."""
        return secrets.token_urlsafe(32)

    def verify(self, req: InboundRequest, conn: Connector, *, now: datetime) -> None:
        """Raise SignatureError unless the request is authentic."""
        raise NotImplementedError

    def items(self, req: InboundRequest, conn: Connector) -> list[Item]:
        """Split a verified body into items; Unparseable if it cannot be read."""
        raise NotImplementedError

    def stored_items(self, data: dict[str, Any], key: str, conn: Connector) -> list[Item]:
        """Items again from what the quarantine kept (a raw body is split anew)."""
        raw = data.get("__raw_body__")
        if isinstance(raw, str):
            headers = data.get("__headers__") or {}
            req = InboundRequest(
                method="POST",
                url="",
                headers={str(k): str(v) for k, v in dict(headers).items()},
                query={},
                body=raw.encode(),
            )
            return self.items(req, conn)
        return [Item(key=key, data=data)]

    async def records(self, item: Item, conn: Connector, ctx: AdapterContext) -> list[VendorRecord]:
        """The records an item holds; ItemError if it cannot be read."""
        raise NotImplementedError

    def respond(self, summary: dict[str, Any], req: InboundRequest) -> Response | None:
        """The vendor's expected answer (None: the default JSON summary)."""
        return None
