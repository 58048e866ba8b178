"""The OData system query options the feed understands, parsed into plain values (pure).

A bounded subset of OData v4 URL conventions (part 2, "URL Conventions"):

* ``$filter``: comparisons ``property op literal`` with ``eq ne gt ge lt le``, joined by
  ``and`` and grouped by parentheses; literals are strings (``'north'``, ``''`` escapes a
  quote), dates (``2026-11-01``), date-times with an offset (``2026-11-01T00:00:00Z``),
  integers, decimals, ``true``/``false`` and ``null`` (with ``eq``/``ne`` only). At most
  :data:`MAX_FILTER_CHARS` characters and :data:`MAX_TERMS` comparisons; only properties
  the entity set marks filterable, each with a literal of its type.
* ``$select`` (``*`` or property names), ``$orderby`` (up to :data:`MAX_ORDER` sortable
  properties, ``asc``/``desc``), ``$top``, ``$skip``, ``$count``, ``$skiptoken`` (ours:
  opaque), ``$format=json``.

Anything else that starts with ``$`` is refused: :class:`ODataError` (400) names the
option (``target``) and the reason, as OData's error JSON does.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

from paceline.api.odata.model import EntitySet, Prop
from paceline.shared.errors import BadRequest, FieldError
from paceline.shared.i18n import Code, Msg, msg

MAX_FILTER_CHARS: Final = 1000
MAX_TERMS: Final = 16
MAX_DEPTH: Final = 8
MAX_ORDER: Final = 4
MAX_TOP: Final = 10_000_000
OPERATORS: Final = ("eq", "ne", "gt", "ge", "lt", "le")
SYSTEM_OPTIONS: Final = frozenset(
    {"$filter", "$select", "$orderby", "$top", "$skip", "$count", "$skiptoken", "$format"}
)
# Known OData options the feed does not serve (named as such, not as unknown).
UNSUPPORTED: Final = frozenset(
    {
        "$expand",
        "$search",
        "$apply",
        "$compute",
        "$levels",
        "$index",
        "$deltatoken",
        "$schemaversion",
    }
)


class ODataError(BadRequest):
    """A query option the feed cannot serve: 400 naming the option (``target``)."""

    code = "invalid_query_option"

    def __init__(self, target: str, reason: Msg) -> None:
        super().__init__(
            msg("odata.error", target=target, reason=reason), fields=[FieldError(target, reason)]
        )
        self.target = target
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Comparison:
    """``prop op value``: one term of a ``$filter``."""

    prop: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Query:
    """The parsed options of one request."""

    filter: tuple[Comparison, ...] = ()
    select: tuple[str, ...] | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    top: int | None = None
    skip: int = 0
    count: bool = False
    token: Any = None  # the decoded $skiptoken
    passthrough: dict[str, str] = field(default_factory=dict)  # options a next link repeats


# -- parsing -------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<lp>\()|(?P<rp>\))
    | (?P<str>'(?:[^']|'')*')
    | (?P<dto>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|z|[+\- ]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})(?![\w:.])
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            near = text[pos : pos + 20].strip()
            raise ODataError("$filter", msg("odata.filter_syntax", near=near))
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], entity: EntitySet) -> None:
        self.tokens = tokens
        self.i = 0
        self.entity = entity
        self.terms: list[Comparison] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ODataError("$filter", msg("odata.filter_end"))
        self.i += 1
        return tok

    def expr(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ODataError("$filter", msg("odata.filter_depth", max=MAX_DEPTH))
        self.term(depth)
        while (tok := self.peek()) is not None and tok == ("word", "and"):
            self.i += 1
            self.term(depth)

    def term(self, depth: int) -> None:
        kind, text = self.take()
        if kind == "lp":
            self.expr(depth + 1)
            if self.take()[0] != "rp":
                raise ODataError("$filter", msg("odata.filter_paren"))
            return
        if kind != "word":
            raise ODataError("$filter", msg("odata.filter_property", near=text))
        if text in {"or", "not"}:
            raise ODataError("$filter", msg("odata.filter_operator", op=text))
        prop = self.entity.prop(text)
        if prop is None or not prop.filter:
            allowed = [Code(p.name) for p in self.entity.props if p.filter]
            raise ODataError("$filter", msg("odata.filter_field", name=text, allowed=allowed))
        if (nxt := self.peek()) is not None and nxt[0] == "lp":
            raise ODataError("$filter", msg("odata.filter_function", name=text))
        op_kind, op = self.take()
        if op_kind != "word" or op not in OPERATORS:
            raise ODataError("$filter", msg("odata.filter_operator", op=op))
        value = self.literal(prop, op)
        self.terms.append(Comparison(prop.name, op, value))
        if len(self.terms) > MAX_TERMS:
            raise ODataError("$filter", msg("odata.filter_terms", max=MAX_TERMS))

    def literal(self, prop: Prop, op: str) -> Any:
        kind, text = self.take()
        if kind == "word" and text == "null":
            if op not in {"eq", "ne"}:
                raise ODataError("$filter", msg("odata.filter_null", op=op))
            return None
        value = _literal(kind, text)
        if not _fits(prop.edm, value):
            raise ODataError(
                "$filter", msg("odata.filter_type", name=prop.name, type=prop.edm, value=text)
            )
        if isinstance(value, datetime) and prop.edm == "Edm.DateTimeOffset":
            return value
        if isinstance(value, int) and prop.edm == "Edm.Decimal":
            return Decimal(value)
        return value


def _literal(kind: str, text: str) -> Any:
    if kind == "str":
        return text[1:-1].replace("''", "'")
    if kind == "dto":
        # A "+" that was not percent-encoded in a URL arrives as a space.
        fixed = text[:-6] + "+" + text[-5:] if text[-6] == " " else text
        try:
            return datetime.fromisoformat(fixed.replace("z", "Z"))
        except ValueError:
            return _Bad(text)
    if kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return _Bad(text)
    if kind == "num":
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        try:
            return Decimal(text)
        except InvalidOperation:
            return _Bad(text)
    if kind == "word" and text in {"true", "false"}:
        return text == "true"
    return _Bad(text)


@dataclass(frozen=True, slots=True)
class _Bad:
    text: str


def _fits(edm: str, value: Any) -> bool:
    if isinstance(value, _Bad):
        return False
    if edm == "Edm.String":
        return isinstance(value, str)
    if edm == "Edm.Boolean":
        return isinstance(value, bool)
    if edm in {"Edm.Int64", "Edm.Int32"}:
        return isinstance(value, int) and not isinstance(value, bool)
    if edm == "Edm.Decimal":
        return isinstance(value, int | Decimal) and not isinstance(value, bool)
    if edm == "Edm.Date":
        return isinstance(value, date) and not isinstance(value, datetime)
    if edm == "Edm.DateTimeOffset":
        return isinstance(value, datetime)
    return False


def parse_filter(text: str, entity: EntitySet) -> tuple[Comparison, ...]:
    """``$filter`` -> its comparisons (all joined by ``and``); 400 naming ``$filter``."""
    if len(text) > MAX_FILTER_CHARS:
        raise ODataError("$filter", msg("odata.filter_long", max=MAX_FILTER_CHARS))
    if not text.strip():
        raise ODataError("$filter", msg("odata.filter_empty"))
    parser = _Parser(_tokens(text), entity)
    parser.expr(0)
    if parser.peek() is not None:
        raise ODataError("$filter", msg("odata.filter_operator", op=parser.peek()[1]))  # type: ignore[index]
    return tuple(parser.terms)


def parse_select(text: str, entity: EntitySet) -> tuple[str, ...] | None:
    """``$select`` -> property names (None: all); 400 naming ``$select``."""
    names = [n.strip() for n in text.split(",")]
    if names == ["*"]:
        return None
    out: list[str] = []
    for name in names:
        if entity.prop(name) is None:
            raise ODataError(
                "$select", msg("odata.select_field", name=name, entity=Code(entity.name))
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def parse_orderby(text: str, entity: EntitySet) -> tuple[tuple[str, bool], ...]:
    """``$orderby`` -> (property, descending) pairs; 400 naming ``$orderby``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > MAX_ORDER:
        raise ODataError("$orderby", msg("odata.orderby_many", max=MAX_ORDER))
    out: list[tuple[str, bool]] = []
    for part in parts:
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in {"asc", "desc"}):
            raise ODataError("$orderby", msg("odata.orderby_syntax", near=part))
        prop = entity.prop(words[0])
        if prop is None or not prop.sort:
            allowed = [Code(p.name) for p in entity.props if p.sort]
            raise ODataError("$orderby", msg("odata.orderby_field", name=words[0], allowed=allowed))
        out.append((prop.name, len(words) == 2 and words[1] == "desc"))
    return tuple(out)


def _count_of(option: str, text: str, *, limit: int) -> int:
    if not re.fullmatch(r"\d{1,12}", text.strip()):
        raise ODataError(option, msg("odata.not_count", option=option))
    value = int(text)
    if value > limit:
        raise ODataError(option, msg("odata.too_large", option=option, max=limit))
    return value


def encode_token(value: Any) -> str:
    """An opaque ``$skiptoken``."""
    raw = orjson.dumps(value, default=lambda v: v.isoformat())
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(text: str) -> Any:
    """A ``$skiptoken`` back to its value; 400 naming ``$skiptoken`` if it is not ours."""
    try:
        return orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ODataError("$skiptoken", msg("odata.bad_token")) from None


def parse_query(
    params: Iterable[tuple[str, str]],
    entity: EntitySet,
    *,
    max_skip: int,
    custom: Sequence[str] = (),
) -> Query:
    """The request's system query options for one entity set; 400 naming the first bad one.

    Custom options (no ``$``) other than ``custom`` are ignored, as OData allows.
    """
    seen: dict[str, str] = {}
    passthrough: dict[str, str] = {}
    for name, value in params:
        if not name.startswith("$"):
            if name in custom:
                passthrough[name] = value
            continue
        if name in UNSUPPORTED:
            raise ODataError(name, msg("odata.unsupported", option=name))
        if name not in SYSTEM_OPTIONS:
            raise ODataError(name, msg("odata.unknown", option=name))
        if name in seen:
            raise ODataError(name, msg("odata.repeated", option=name))
        seen[name] = value
    if "$format" in seen and seen["$format"].split(";")[0].strip().lower() not in {
        "json",
        "application/json",
    }:
        raise ODataError("$format", msg("odata.format"))
    filt = parse_filter(seen["$filter"], entity) if "$filter" in seen else ()
    select = parse_select(seen["$select"], entity) if "$select" in seen else None
    orderby = parse_orderby(seen["$orderby"], entity) if "$orderby" in seen else ()
    top = _count_of("$top", seen["$top"], limit=MAX_TOP) if "$top" in seen else None
    skip = _count_of("$skip", seen["$skip"], limit=max_skip) if "$skip" in seen else 0
    count = False
    if "$count" in seen:
        if seen["$count"] not in {"true", "false"}:
            raise ODataError("$count", msg("odata.count"))
        count = seen["$count"] == "true"
    token = decode_token(seen["$skiptoken"]) if "$skiptoken" in seen else None
    for name in ("$filter", "$select", "$orderby", "$count", "$format"):
        if name in seen:
            passthrough[name] = seen[name]
    return Query(filt, select, orderby, top, skip, count, token, passthrough)


# -- evaluation ----------------------------------------------------------------------------


def matches(row: Mapping[str, Any], terms: Sequence[Comparison]) -> bool:
    """Whether a row satisfies every comparison (OData's null rules: only eq/ne see null)."""
    for c in terms:
        v = row.get(c.prop)
        if v is None or c.value is None:
            ok = (
                (v is None) == (c.value is None)
                if c.op == "eq"
                else ((v is None) != (c.value is None) if c.op == "ne" else False)
            )
        else:
            ok = _compare(v, c.op, c.value)
        if not ok:
            return False
    return True


def _compare(v: Any, op: str, x: Any) -> bool:
    if op == "eq":
        return bool(v == x)
    if op == "ne":
        return bool(v != x)
    if op == "gt":
        return bool(v > x)
    if op == "ge":
        return bool(v >= x)
    if op == "lt":
        return bool(v < x)
    return bool(v <= x)


def sort_rows(rows: list[dict[str, Any]], orderby: Sequence[tuple[str, bool]]) -> None:
    """Sort in place: nulls first ascending, last descending (OData's order), stable."""
    for name, desc in reversed(orderby):
        present = [r for r in rows if r.get(name) is not None]
        absent = [r for r in rows if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=desc)
        rows[:] = present + absent if desc else absent + present


def eq_values(terms: Sequence[Comparison], prop: str) -> list[Any] | None:
    """The one value an ``eq`` on ``prop`` allows (a list of it), or None if unconstrained."""
    values = [c.value for c in terms if c.prop == prop and c.op == "eq"]
    if not values:
        return None
    return [values[0]] if all(v == values[0] for v in values) else []


def lower_bound(terms: Sequence[Comparison], prop: str) -> Any:
    """The greatest lower bound ``ge``/``gt``/``eq`` give ``prop`` (inclusive; None: none)."""
    found = [c.value for c in terms if c.prop == prop and c.op in {"ge", "gt", "eq"}]
    found = [v for v in found if v is not None]
    return max(found) if found else None


def upper_bound(terms: Sequence[Comparison], prop: str) -> Any:
    """The least upper bound ``le``/``lt``/``eq`` give ``prop`` (inclusive; None: none)."""
    found = [c.value for c in terms if c.prop == prop and c.op in {"le", "lt", "eq"}]
    found = [v for v in found if v is not None]
    return min(found) if found else None
