"""The KPI formula language: parsed with a real grammar (lark), compiled, never ``eval``-ed.

A formula names decomposable aggregates over canonical events, so facts kept per rep and
day roll up to any team and period::

    sum(deal.amount where stage == "won")
    count(visit where channel == "onsite")
    distinct(deal.customer_id where stage == "won" and is_new_customer)
    avg(complaint.response_hours)                   # = ratio(sum(...), count(... not null))
    ratio(count(deal where stage == "won"), count(quote))
    ratio(count(complaint), distinct(any.customer_id)) * 100
    sum(payment.amount_paid by due_date)            # which date decides the fact day
    working_day_share(any)                          # share of working days with an event

Grammar (docs/KPIS.md, "Custom KPIs: the formula language", has the user-facing version)::

    formula   := term ("*" number)?
    term      := agg | "ratio" "(" agg "," agg ")" | "working_day_share" "(" source ")"
    agg       := ("sum" | "avg" | "distinct") "(" source "." field clauses ")"
               | "count" "(" source clauses ")"
    clauses   := ("where" cond)? ("by" field)?
    cond      := cond "or" cond | cond "and" cond | "not" cond | "(" cond ")"
               | field op value | field "in" "(" value ("," value)* ")"
               | field "is" "null" | field "is" "not" "null" | field
    source    := visit | lead | quote | deal | payment | complaint | training | survey | any

Fields are the canonical event's (``amount``, ``stage``, ...), derived ones
(``response_hours``, ``resolution_hours``, ``days_to_pay``) and ``attributes.<name>``.
A bad formula raises :class:`FormulaError` with the 1-based position and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final, Literal, cast

from lark import Lark, Token, Transformer, Tree, UnexpectedInput, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from paceline.shared.events import EVENT_TYPES, TYPE_FIELDS
from paceline.shared.i18n import Invalid, Msg, msg

_GRAMMAR: Final[str] = r"""
?start: formula
formula: term ("*" NUMBER)?
?term: agg
     | "ratio" "(" agg "," agg ")"                 -> ratio
     | "working_day_share" "(" SOURCE ")"          -> working_day_share
agg: AGG_FIELD "(" SOURCE "." FIELD clauses ")"   -> agg_field
   | "count" "(" SOURCE clauses ")"                -> agg_count
clauses: where? by?
where: "where" cond
by: "by" FIELD
?cond: or_cond
?or_cond: and_cond ("or" and_cond)*
?and_cond: not_cond ("and" not_cond)*
?not_cond: "not" not_cond                          -> not_
         | atom
?atom: "(" cond ")"
     | FIELD OP value                              -> compare
     | FIELD "in" "(" value ("," value)* ")"       -> in_
     | FIELD "is" "not" "null"                     -> not_null
     | FIELD "is" "null"                           -> is_null
     | FIELD                                       -> truthy
value: ESCAPED_STRING                              -> string
     | SIGNED_NUMBER                               -> number
     | "true"                                      -> true
     | "false"                                     -> false
AGG_FIELD: "sum" | "avg" | "distinct"
SOURCE: "visit" | "lead" | "quote" | "deal" | "payment" | "complaint" | "training"
      | "survey" | "any"
FIELD: /[a-z_][a-z0-9_]*(\.[A-Za-z0-9_\-]+)?/
OP: "==" | "!=" | ">=" | "<=" | ">" | "<"
NUMBER: /[0-9]+(\.[0-9]+)?/
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

# Derived numeric fields: name -> the event type that has it.
DERIVED_FIELDS: Final[dict[str, str]] = {
    "response_hours": "complaint",
    "resolution_hours": "complaint",
    "days_to_pay": "payment",
}
MONEY_FIELDS: Final[frozenset[str]] = frozenset({"amount", "margin", "amount_due", "amount_paid"})
NUMERIC_FIELDS: Final[frozenset[str]] = MONEY_FIELDS | frozenset(
    {"duration_min", "score", "nps", *DERIVED_FIELDS}
)
BOOL_FIELDS: Final[frozenset[str]] = frozenset({"is_new_customer", "passed"})
TIME_FIELDS: Final[frozenset[str]] = frozenset(
    {"occurred_at", "closed_at", "paid_at", "opened_at", "first_response_at", "resolved_at"}
)
DATE_FIELDS: Final[frozenset[str]] = TIME_FIELDS | {"due_date"}
COMMON_READABLE: Final[frozenset[str]] = frozenset(
    {"event_id", "rep_id", "customer_id", "entity_id", "amount", "currency", "occurred_at"}
)

Scalar = str | Decimal | bool | None


class FormulaError(Invalid):
    """A formula that does not parse or does not make sense, with where and why.

    ``problem`` is the catalog message (``formula.*``) of why; ``msg`` (what a pydantic
    validator's refusal shows) says why and where; ``reason`` is the English of why, for
    logs."""

    def __init__(self, problem: Msg, *, position: int, formula: str) -> None:
        super().__init__("formula.at_position", reason=problem, position=position)
        self.problem = problem
        self.reason = str(problem)
        self.position = position  # 1-based character offset
        self.formula = formula


# -- compiled model ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value``; a missing field never compares true (except with ``!=``)."""

    field: str
    op: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class In:
    """``field in (v1, v2, ...)``."""

    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class IsNull:
    """``field is null`` (negated: ``is not null``)."""

    field: str
    negated: bool


@dataclass(frozen=True, slots=True)
class Truthy:
    """A bare field: true when present and truthy."""

    field: str


@dataclass(frozen=True, slots=True)
class And:
    """All parts hold."""

    parts: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any part holds."""

    parts: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold."""

    part: Cond


Cond = Compare | In | IsNull | Truthy | And | Or | Not


@dataclass(frozen=True, slots=True)
class Measure:
    """One decomposable series kept as facts per rep and day.

    ``sum`` adds ``field``; ``count`` adds one per matching record; ``distinct`` keeps the
    set of ``field`` values (a member table), so it rolls up as a union.
    """

    kind: Literal["sum", "count", "distinct"]
    source: str  # an event type, or "any"
    field: str | None
    where: Cond | None
    by: str | None  # the date field that decides the fact day; None: the type's default


@dataclass(frozen=True, slots=True)
class Formula:
    """A compiled formula: its measures and how they combine into the KPI's value."""

    text: str
    shape: Literal["value", "ratio", "working_day_share"]
    measures: tuple[Measure, ...]
    factor: Decimal
    # "avg" formulas are ratios that read as averages (sum / count).
    is_average: bool = False

    @property
    def event_types(self) -> frozenset[str]:
        """The event types the formula reads ("any" means all of them)."""
        return frozenset(m.source for m in self.measures)


# -- parsing ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _fields_of(source: str) -> frozenset[str]:
    if source == "any":
        return COMMON_READABLE
    derived = {name for name, t in DERIVED_FIELDS.items() if t == source}
    from paceline.shared.events import COMMON_FIELDS  # avoid a cycle at import

    return frozenset(
        (COMMON_FIELDS - {"attributes", "version", "deleted", "backfill", "type"})
        | TYPE_FIELDS[source]
        | derived
    )


# What the parser expected, as a person reads it: a literal token as itself, a kind of
# token by its catalog word (formula.expected.*).
_TOKENS: Final[dict[str, str]] = {
    "LPAR": '"("',
    "RPAR": '")"',
    "COMMA": '","',
    "DOT": '"."',
    "STAR": '"*"',
    "AGG_FIELD": "sum/avg/distinct",
}
_WORDS: Final[dict[str, str]] = {
    "FIELD": "formula.expected.field",
    "SOURCE": "formula.expected.event_type",
    "OP": "formula.expected.comparison",
    "ESCAPED_STRING": "formula.expected.string",
    "SIGNED_NUMBER": "formula.expected.number",
    "NUMBER": "formula.expected.number",
    "$END": "formula.expected.end",
}


def _describe_expected(expected: set[str]) -> list[str | Msg]:
    tokens = sorted({_TOKENS.get(e, e.lower().strip('"')) for e in expected if e not in _WORDS})
    words = sorted({_WORDS[e] for e in expected if e in _WORDS})
    shown: list[str | Msg] = [*tokens, *(Msg(w) for w in words)]
    return shown[:8]


@v_args(inline=True)
class _Build(Transformer[Token, Any]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    # values
    def string(self, tok: Token) -> str:

        return str(json.loads(tok))

    def number(self, tok: Token) -> Decimal:
        return Decimal(str(tok))

    def true(self) -> bool:
        return True

    def false(self) -> bool:
        return False

    # conditions
    def compare(self, field: Token, op: Token, value: Scalar) -> Cond:
        return Compare(str(field), str(op), value)

    def in_(self, field: Token, *values: Scalar) -> Cond:
        return In(str(field), tuple(values))

    def is_null(self, field: Token) -> Cond:
        return IsNull(str(field), negated=False)

    def not_null(self, field: Token) -> Cond:
        return IsNull(str(field), negated=True)

    def truthy(self, field: Token) -> Cond:
        return Truthy(str(field))

    def not_(self, part: Cond) -> Cond:
        return Not(part)

    def and_cond(self, *parts: Cond) -> Cond:
        return And(tuple(parts))

    def or_cond(self, *parts: Cond) -> Cond:
        return Or(tuple(parts))

    def where(self, cond: Cond) -> tuple[str, Cond]:
        return ("where", cond)

    def by(self, field: Token) -> tuple[str, Token]:
        return ("by", field)

    def clauses(self, *items: tuple[str, Any]) -> dict[str, Any]:
        return dict(items)


def _check_field(name: str, source: str, tok: Token | Tree[Any] | None, text: str) -> None:
    if name.startswith("attributes."):
        return
    if name not in _fields_of(source):
        problem = (
            msg("formula.unknown_field_any", field=name)
            if source == "any"
            else msg(
                "formula.unknown_field",
                field=name,
                source=source,
                fields=", ".join(sorted(_fields_of(source))),
            )
        )
        raise FormulaError(problem, position=_pos(tok), formula=text)


def _pos(tok: Token | Tree[Any] | None) -> int:
    if tok is None:
        return 1
    if isinstance(tok, Token):
        return (tok.start_pos or 0) + 1
    meta = tok.meta
    return (getattr(meta, "start_pos", 0) or 0) + 1


ENUMS: Final[dict[str, frozenset[str]]] = {
    "stage": frozenset({"open", "won", "lost"}),
    "status": frozenset({"sent", "accepted", "rejected"}),
    "channel": frozenset({"onsite", "phone", "video"}),
    "type": frozenset(EVENT_TYPES),
}


def _literal_problem(field: str, value: Scalar) -> Msg | None:
    """Why a literal can never match a field, or None if it can."""
    if field.startswith("attributes."):
        return None
    if field in DATE_FIELDS:
        return msg("formula.literal.date", field=field)
    if field in NUMERIC_FIELDS:
        return None if isinstance(value, Decimal) else msg("formula.literal.number", field=field)
    if field in BOOL_FIELDS:
        return None if isinstance(value, bool) else msg("formula.literal.bool", field=field)
    if not isinstance(value, str):
        return msg("formula.literal.text", field=field)
    allowed = ENUMS.get(field)
    if allowed is not None and value not in allowed:
        return msg(
            "formula.literal.enum", field=field, allowed=", ".join(sorted(allowed)), value=value
        )
    return None


def _cond_literals(cond: Cond) -> list[tuple[str, Scalar]]:
    if isinstance(cond, And | Or):
        return [x for p in cond.parts for x in _cond_literals(p)]
    if isinstance(cond, Not):
        return _cond_literals(cond.part)
    if isinstance(cond, Compare):
        return [(cond.field, cond.value)]
    if isinstance(cond, In):
        return [(cond.field, v) for v in cond.values]
    return []


def _cond_fields(cond: Cond) -> list[str]:
    if isinstance(cond, And | Or):
        return [f for p in cond.parts for f in _cond_fields(p)]
    if isinstance(cond, Not):
        return _cond_fields(cond.part)
    return [cond.field]


def _find_token(tree: Tree[Any], value: str) -> Token | None:
    for tok in tree.scan_values(lambda v: isinstance(v, Token) and str(v) == value):
        return tok  # type: ignore[no-any-return]
    return None


def _find_literal(tree: Tree[Any], value: Scalar) -> Token | None:
    for tok in tree.scan_values(lambda v: isinstance(v, Token)):
        if tok.type == "ESCAPED_STRING" and isinstance(value, str) and json.loads(tok) == value:
            return tok  # type: ignore[no-any-return]
        if tok.type == "SIGNED_NUMBER" and isinstance(value, Decimal) and Decimal(tok) == value:
            return tok  # type: ignore[no-any-return]
    return None


def _measure(tree: Tree[Any], text: str) -> tuple[list[Measure], bool]:
    """Compile one ``agg`` node into its measures (avg becomes two)."""
    builder = _Build(text)
    if tree.data == "agg_count":
        source_tok, clauses_tree = tree.children
        agg, field_tok = "count", None
    else:
        agg_tok, source_tok, field_tok, clauses_tree = tree.children
        agg = str(agg_tok)
    source = str(source_tok)
    clauses: dict[str, Any] = builder.transform(clauses_tree)
    where: Cond | None = clauses.get("where")
    by_tok: Token | None = clauses.get("by")
    field = str(field_tok) if field_tok is not None else None
    if field is not None:
        _check_field(field, source, field_tok, text)
        if (
            agg in {"sum", "avg"}
            and field not in NUMERIC_FIELDS
            and not field.startswith("attributes.")
        ):
            raise FormulaError(
                msg("formula.not_numeric", agg=agg, field=field),
                position=_pos(field_tok),
                formula=text,
            )
    if where is not None:
        for name in _cond_fields(where):
            tok = _find_token(clauses_tree, name)
            _check_field(name, source, tok or clauses_tree, text)
        for name, value in _cond_literals(where):
            problem = _literal_problem(name, value)
            if problem is not None:
                # Point at the literal that cannot match (else at the field).
                tok = _find_literal(clauses_tree, value) or _find_token(clauses_tree, name)
                raise FormulaError(problem, position=_pos(tok or clauses_tree), formula=text)
    by = str(by_tok) if by_tok is not None else None
    if by is not None:
        if source == "any":
            raise FormulaError(msg("formula.by_any"), position=_pos(by_tok), formula=text)
        _check_field(by, source, by_tok, text)
        if by not in DATE_FIELDS:
            raise FormulaError(
                msg("formula.by_not_date", field=by), position=_pos(by_tok), formula=text
            )
    if agg == "avg":
        assert field is not None
        present = IsNull(field, negated=True)
        counted = present if where is None else And((where, present))
        return (
            [
                Measure("sum", source, field, counted, by),
                Measure("count", source, None, counted, by),
            ],
            True,
        )
    kind: Literal["sum", "count", "distinct"] = agg  # type: ignore[assignment]
    return [Measure(kind, source, field, where, by)], False


def parse_formula(text: str) -> Formula:
    """Parse and check a formula; raise FormulaError with position and reason."""
    if not text or not text.strip():
        raise FormulaError(msg("formula.empty"), position=1, formula=text)
    if len(text) > 2000:
        raise FormulaError(msg("formula.too_long", max="2000"), position=2001, formula=text)
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise FormulaError(
            msg("formula.unexpected_character", character=text[exc.pos_in_stream or 0]),
            position=(exc.pos_in_stream or 0) + 1,
            formula=text,
        ) from None
    except UnexpectedEOF as exc:
        raise FormulaError(
            msg("formula.ends_early", expected=_describe_expected(set(exc.expected))),
            position=len(text) + 1,
            formula=text,
        ) from None
    except UnexpectedToken as exc:
        expected = _describe_expected(set(exc.expected))
        if exc.token.type == "$END":
            raise FormulaError(
                msg("formula.ends_early", expected=expected),
                position=len(text) + 1,
                formula=text,
            ) from None
        start = exc.token.start_pos if exc.token.start_pos is not None else len(text)
        raise FormulaError(
            msg("formula.unexpected_token", token=str(exc.token), expected=expected),
            position=start + 1,
            formula=text,
        ) from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above are exhaustive
        raise FormulaError(
            msg("formula.cannot_parse"), position=(exc.pos_in_stream or 0) + 1, formula=text
        ) from None

    formula_tree: Tree[Any] = tree
    factor = Decimal(1)
    if len(formula_tree.children) == 2:
        try:
            factor = Decimal(str(formula_tree.children[1]))
        except InvalidOperation:  # pragma: no cover - the grammar only lets numbers through
            raise FormulaError(msg("formula.bad_factor"), position=1, formula=text) from None
        if factor == 0:
            raise FormulaError(
                msg("formula.zero_factor"), position=_pos(formula_tree.children[1]), formula=text
            )
    term = cast(Tree[Any], formula_tree.children[0])
    if term.data == "ratio":
        num, num_avg = _measure(term.children[0], text)
        den, den_avg = _measure(term.children[1], text)
        if num_avg or den_avg:
            offending = term.children[0] if num_avg else term.children[1]
            raise FormulaError(
                msg("formula.avg_in_ratio"),
                position=_pos(offending.children[0]),
                formula=text,
            )
        return Formula(text, "ratio", (num[0], den[0]), factor)
    if term.data == "working_day_share":
        source = str(term.children[0])
        return Formula(
            text,
            "working_day_share",
            (Measure("distinct", source, "day", None, None),),
            factor,
        )
    measures, is_avg = _measure(term, text)
    if is_avg:
        return Formula(text, "ratio", tuple(measures), factor, is_average=True)
    return Formula(text, "value", tuple(measures), factor)


__all__ = [
    "DERIVED_FIELDS",
    "EVENT_TYPES",
    "MONEY_FIELDS",
    "And",
    "Compare",
    "Cond",
    "Formula",
    "FormulaError",
    "In",
    "IsNull",
    "Measure",
    "Not",
    "Or",
    "Truthy",
    "parse_formula",
]
