"""The feed's entity model: entity sets, their typed properties, and the CSDL document.

The sets are the tables of the BI read model (docs/BI.md): KPIs with their zh-CN and en
names, teams, reps, team memberships over time, facts per KPI, rep and day (with names
and the rep's team on the day), targets (current version) and every target version,
progress of the targets of the current periods, and alerts. ``$metadata`` is CSDL XML
(EDMX 4.0, OData v4 part 3), the document Power BI and Excel read first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from xml.etree import ElementTree as ET

NAMESPACE: Final = "Paceline"
CONTAINER: Final = "Feed"
EDMX_NS: Final = "http://docs.oasis-open.org/odata/ns/edmx"
EDM_NS: Final = "http://docs.oasis-open.org/odata/ns/edm"


@dataclass(frozen=True, slots=True)
class Prop:
    """A property: its Edm type, whether it may be null, its decimal scale, and whether
    ``$filter`` / ``$orderby`` may use it."""

    name: str
    edm: str
    nullable: bool = True
    scale: str | None = None
    filter: bool = False
    sort: bool = True


@dataclass(frozen=True, slots=True)
class EntitySet:
    """An entity set, its entity type's name, key and properties, and its page size."""

    name: str
    type_name: str
    key: tuple[str, ...]
    props: tuple[Prop, ...]
    page_size: int

    def prop(self, name: str) -> Prop | None:
        """The property of that name, if any."""
        return next((p for p in self.props if p.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        """The property names, in declared order."""
        return tuple(p.name for p in self.props)


def _s(name: str, *, nullable: bool = True, filter: bool = False, sort: bool = True) -> Prop:
    return Prop(name, "Edm.String", nullable, None, filter, sort)


def _key(name: str, edm: str = "Edm.String") -> Prop:
    return Prop(name, edm, False, None, True, True)


def _dec(name: str, scale: str = "4", *, filter: bool = False, sort: bool = True) -> Prop:
    return Prop(name, "Edm.Decimal", True, scale, filter, sort)


def _p(
    name: str, edm: str, *, nullable: bool = True, filter: bool = False, sort: bool = True
) -> Prop:
    return Prop(name, edm, nullable, None, filter, sort)


KPIS = EntitySet(
    "Kpis",
    "Kpi",
    ("kpi",),
    (
        _key("kpi"),
        _s("name_zh", nullable=False),
        _s("name_en", nullable=False),
        _s("unit", nullable=False, filter=True),
        _s("direction", nullable=False, filter=True),
        _s("category", nullable=False, filter=True),
        _s("formula", nullable=False),
        _p("builtin", "Edm.Boolean", nullable=False, filter=True),
    ),
    1000,
)
TEAMS = EntitySet(
    "Teams",
    "Team",
    ("team_id",),
    (
        _key("team_id"),
        _s("name", nullable=False),
        _s("parent_id", filter=True),
        _p("active", "Edm.Boolean", nullable=False, filter=True),
        _p("updated_at", "Edm.DateTimeOffset", nullable=False, filter=True),
    ),
    1000,
)
REPS = EntitySet(
    "Reps",
    "Rep",
    ("rep_id",),
    (
        _key("rep_id"),
        _s("name", nullable=False),
        _s("role", filter=True),
        _p("active", "Edm.Boolean", nullable=False, filter=True),
        _p("updated_at", "Edm.DateTimeOffset", nullable=False, filter=True),
    ),
    1000,
)
MEMBERSHIPS = EntitySet(
    "Memberships",
    "Membership",
    ("membership_id",),
    (
        _key("membership_id", "Edm.Int64"),
        _s("rep_id", nullable=False, filter=True),
        _s("rep_name"),
        _s("team_id", nullable=False, filter=True),
        _s("team_name"),
        _p("valid_from", "Edm.Date", nullable=False, filter=True),
        _p("valid_to", "Edm.Date", filter=True),
    ),
    1000,
)
# Facts page through the database in key order (kpi, rep_id, day): no other order, and
# the filter narrows the query on kpi, rep_id, team_id, day and changed_at.
FACTS = EntitySet(
    "Facts",
    "Fact",
    ("kpi", "rep_id", "day"),
    (
        _key("kpi"),
        Prop("day", "Edm.Date", False, None, True, True),
        _key("rep_id"),
        _s("rep_name", sort=False),
        _s("team_id", filter=True, sort=False),
        _s("team_name", sort=False),
        _dec("value", sort=False),
        _dec("numerator", sort=False),
        _dec("denominator", sort=False),
        _p("sample", "Edm.Int64", nullable=False, sort=False),
        _p("changed_at", "Edm.DateTimeOffset", filter=True, sort=False),
    ),
    5000,
)
_TARGET_PROPS = (
    _key("target_id", "Edm.Int64"),
    _s("kpi", nullable=False, filter=True),
    _s("scope", nullable=False, filter=True),
    _s("scope_kind", nullable=False, filter=True),
    _s("scope_id", filter=True),
    _s("period", nullable=False, filter=True),
    _s("period_kind", nullable=False, filter=True),
    _p("start", "Edm.Date", nullable=False, filter=True),
    _p("end", "Edm.Date", nullable=False, filter=True),
    _p("parent_id", "Edm.Int64", filter=True),
    _p("version", "Edm.Int32", nullable=False),
    _dec("baseline", "variable"),
    _dec("target", "variable"),
    _dec("stretch", "variable"),
    _p("recorded_at", "Edm.DateTimeOffset", nullable=False, filter=True),
    _s("author", nullable=False),
    _s("reason", nullable=False),
)
TARGETS = EntitySet("Targets", "Target", ("target_id",), _TARGET_PROPS, 1000)
TARGET_VERSIONS = EntitySet(
    "TargetVersions",
    "TargetVersion",
    ("target_id", "version"),
    (
        *(
            Prop(p.name, p.edm, False, None, True, True) if p.name == "version" else p
            for p in _TARGET_PROPS
        ),
        _p("is_current", "Edm.Boolean", nullable=False, filter=True),
    ),
    1000,
)
# Progress is computed per row: the filter and the order may use only what a target
# says before its progress is computed; pages are small.
PROGRESS = EntitySet(
    "Progress",
    "Progress",
    ("target_id",),
    (
        _key("target_id", "Edm.Int64"),
        _s("kpi", nullable=False, filter=True),
        _s("scope", nullable=False, filter=True),
        _s("period", nullable=False, filter=True),
        _p("as_of", "Edm.DateTimeOffset", nullable=False, sort=False),
        _p("through_day", "Edm.Date", sort=False),
        _s("unit", nullable=False, sort=False),
        _s("currency", sort=False),
        _p("target_version", "Edm.Int32", sort=False),
        _dec("actual", sort=False),
        _dec("numerator", sort=False),
        _dec("denominator", sort=False),
        _p("sample", "Edm.Int64", nullable=False, sort=False),
        _dec("target", sort=False),
        _dec("baseline", sort=False),
        _dec("stretch", sort=False),
        _dec("expected", sort=False),
        _s("expected_method", sort=False),
        _dec("elapsed_share", sort=False),
        _p("working_days_elapsed", "Edm.Int32", sort=False),
        _p("working_days_total", "Edm.Int32", sort=False),
        _dec("pace", sort=False),
        _dec("projection_linear", sort=False),
        _dec("projection_seasonal", sort=False),
        _s("status", nullable=False, sort=False),
        _s("closed_months", nullable=False, sort=False),
        _dec("adjusted", sort=False),
        _p("adjustments", "Edm.Int64", sort=False),
    ),
    200,
)
ALERTS = EntitySet(
    "Alerts",
    "Alert",
    ("alert_id",),
    (
        _key("alert_id", "Edm.Int64"),
        _s("kind", nullable=False, filter=True),
        _s("type", nullable=False, filter=True),
        _s("scope", nullable=False, filter=True),
        _s("severity", nullable=False, filter=True),
        _s("status", nullable=False, filter=True),
        _s("title", nullable=False),
        _p("occurrences", "Edm.Int64", nullable=False),
        _p("first_seen_at", "Edm.DateTimeOffset", nullable=False, filter=True),
        _p("last_seen_at", "Edm.DateTimeOffset", nullable=False, filter=True),
        _p("acknowledged_at", "Edm.DateTimeOffset", filter=True),
        _s("acknowledged_by"),
        _p("resolved_at", "Edm.DateTimeOffset", filter=True),
    ),
    1000,
)

ENTITY_SETS: Final = (
    KPIS,
    TEAMS,
    REPS,
    MEMBERSHIPS,
    FACTS,
    TARGETS,
    TARGET_VERSIONS,
    PROGRESS,
    ALERTS,
)
BY_NAME: Final = {e.name: e for e in ENTITY_SETS}


def metadata_xml() -> bytes:
    """The CSDL XML document (``$metadata``)."""
    ET.register_namespace("edmx", EDMX_NS)
    root = ET.Element(f"{{{EDMX_NS}}}Edmx", {"Version": "4.0"})
    services = ET.SubElement(root, f"{{{EDMX_NS}}}DataServices")
    schema = ET.SubElement(services, "Schema", {"xmlns": EDM_NS, "Namespace": NAMESPACE})
    for entity in ENTITY_SETS:
        etype = ET.SubElement(schema, "EntityType", {"Name": entity.type_name})
        key = ET.SubElement(etype, "Key")
        for name in entity.key:
            ET.SubElement(key, "PropertyRef", {"Name": name})
        for p in entity.props:
            attrs = {"Name": p.name, "Type": p.edm, "Nullable": "true" if p.nullable else "false"}
            if p.scale is not None:
                attrs["Scale"] = p.scale
            ET.SubElement(etype, "Property", attrs)
    container = ET.SubElement(schema, "EntityContainer", {"Name": CONTAINER})
    for entity in ENTITY_SETS:
        ET.SubElement(
            container,
            "EntitySet",
            {"Name": entity.name, "EntityType": f"{NAMESPACE}.{entity.type_name}"},
        )
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()
