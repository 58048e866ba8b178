"""Shapes of history imports: the column mapping, the request and the report."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paceline.shared.events import EventType
from paceline.shared.i18n import Invalid

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,56}$"
ImportName = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Names the import; events get source `import:<name>` (ids unique per name).",
    ),
]


class ImportMapping(BaseModel):
    """How the columns of a file become canonical events.

    A file whose headers are canonical field names (``event_id``, ``type``, ``occurred_at``,
    ``rep_id``, ``amount``...) needs no mapping at all. Otherwise:

    * ``columns``: header -> canonical field, ``attributes.<name>``, or ``null`` to drop it;
      headers that are neither mapped nor canonical are kept in ``attributes``;
    * ``type``: the event type of every row (else a column mapped to ``type``);
    * ``constants``: values for fields the file lacks (a non-empty cell wins);
    * ``values``: per field, file values -> canonical values (``"Closed Won": "won"``);
    * ``date_formats``: per field (or ``"*"``) a ``strptime`` format such as ``%d/%m/%Y``;
      without one, ISO 8601 and ``2026/03/14 10:30`` are understood;
    * ``timezone``: the zone of times without an offset (default: the tenant's);
    * ``decimal_separator``: ``.`` (``1,234.56``) or ``,`` (``1.234,56``); amounts may carry a
      currency code or symbol (``USD 1,200``, ``¥3,000``, ``€9.50``), which sets the currency.
    """

    model_config = ConfigDict(extra="forbid")

    type: EventType | None = None
    columns: dict[str, str | None] = Field(default_factory=dict, max_length=500)
    constants: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, dict[str, Any]] = Field(default_factory=dict)
    date_formats: dict[str, str] = Field(default_factory=dict)
    timezone: str | None = None
    decimal_separator: Literal[".", ","] = "."
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","


class ImportRequest(BaseModel):
    """``POST /v1/imports`` as JSON: the file (its text, or its bytes in base64 with their
    charset) and its mapping in one body."""

    model_config = ConfigDict(extra="forbid")

    name: ImportName
    format: Literal["csv", "ndjson"] = "csv"
    mapping: ImportMapping = Field(default_factory=ImportMapping)
    content: str | None = Field(
        default=None, description="The whole file as text (CSV with a header row, or NDJSON)."
    )
    content_base64: str | None = Field(
        default=None,
        description="Instead of `content`: the file's bytes in base64, e.g. a GBK CSV as "
        "Chinese Excel saves it (see `charset`).",
    )
    charset: Annotated[str, Field(max_length=40)] | None = Field(
        default=None,
        description="The charset of `content_base64`: `utf-8`, `gbk`/`gb18030`, `big5`. "
        "Undeclared and not UTF-8: read as GB18030, with a warning.",
    )
    file_name: Annotated[str, Field(max_length=400)] | None = None

    @model_validator(mode="after")
    def _one_content(self) -> ImportRequest:
        if (self.content is None) == (self.content_base64 is None):
            raise Invalid("imports.request.one_content")
        return self
