"""The adapters by name."""

from __future__ import annotations

from typing import Final

from paceline.ingest.webhooks.base import Adapter
from paceline.ingest.webhooks.generic import GenericAdapter
from paceline.ingest.webhooks.hubspot import HubSpotAdapter
from paceline.ingest.webhooks.pipedrive import PipedriveAdapter
from paceline.ingest.webhooks.salesforce import SalesforceAdapter
from paceline.ingest.webhooks.zoho import ZohoAdapter

ADAPTERS: Final[dict[str, Adapter]] = {
    a.name: a
    for a in (
        HubSpotAdapter(),
        PipedriveAdapter(),
        SalesforceAdapter(),
        ZohoAdapter(),
        GenericAdapter(),
    )
}


def adapter_for(name: str) -> Adapter:
    """The adapter of a connector (KeyError if unknown)."""
    return ADAPTERS[name]


def default_adapter(source: str) -> str:
    """The adapter a source name implies: the vendor's own, else generic."""
    return source if source in ADAPTERS else "generic"
