"""Pydantic's validation errors as catalog messages (pure: used by the web error handler,
by services that validate documents themselves, and by the canonical event's checks)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from paceline.shared.i18n import Invalid, Msg, OneOf, msg

# Pydantic's error types and the context each message needs; any other type is
# "errors.validation.invalid" (a validator's own refusal carries its message: Invalid).
PYDANTIC_TYPES: dict[str, tuple[str, ...]] = {
    "missing": (),
    "extra_forbidden": (),
    "string_type": (),
    "string_too_short": ("min_length",),
    "string_too_long": ("max_length",),
    "string_pattern_mismatch": ("pattern",),
    "int_type": (),
    "int_parsing": (),
    "int_from_float": (),
    "float_type": (),
    "float_parsing": (),
    "decimal_type": (),
    "decimal_parsing": (),
    "decimal_max_digits": ("max_digits",),
    "decimal_max_places": ("decimal_places",),
    "decimal_whole_digits": ("whole_digits",),
    "finite_number": (),
    "bool_type": (),
    "bool_parsing": (),
    "greater_than": ("gt",),
    "greater_than_equal": ("ge",),
    "less_than": ("lt",),
    "less_than_equal": ("le",),
    "multiple_of": ("multiple_of",),
    "too_short": ("min_length",),
    "too_long": ("max_length",),
    "list_type": (),
    "dict_type": (),
    "model_type": (),
    "model_attributes_type": (),
    "literal_error": ("expected",),
    "enum": ("expected",),
    "date_type": (),
    "date_parsing": (),
    "date_from_datetime_parsing": (),
    "date_from_datetime_inexact": (),
    "datetime_type": (),
    "datetime_parsing": (),
    "datetime_from_date_parsing": (),
    "timezone_aware": (),
    "time_parsing": (),
    "url_parsing": (),
    "url_type": (),
    "url_scheme": ("expected_schemes",),
    "url_too_long": ("max_length",),
    "value_error": (),
    "assertion_error": (),
    "union_tag_invalid": ("discriminator", "expected_tags"),
    "union_tag_not_found": ("discriminator",),
    "json_type": (),
    "uuid_parsing": (),
    "bytes_type": (),
    "too_big": (),
    "frozen_field": (),
    "string_unicode": (),
}


def reason_of(error: Mapping[str, Any]) -> Msg:
    """A pydantic error as a catalog message (a validator's :class:`Invalid` as itself)."""
    ctx = error.get("ctx") or {}
    refusal = ctx.get("error")
    if isinstance(refusal, Invalid):
        return refusal.msg
    kind = str(error.get("type", ""))
    if kind not in PYDANTIC_TYPES:
        return msg("errors.validation.invalid")
    if kind in ("value_error", "assertion_error"):
        # A validator without a catalog message: its own words (a bug the leak test names).
        return msg("errors.validation.value_error", reason=str(refusal or error.get("msg", "")))
    params: dict[str, Any] = {k: str(ctx.get(k, "")) for k in PYDANTIC_TYPES[kind]}
    if "expected" in params:  # pydantic's English "'a', 'b' or 'c'": the choices
        params["expected"] = OneOf(_CHOICE.findall(params["expected"]) or [params["expected"]])
    return msg(f"errors.validation.{kind}", **params)


_CHOICE = re.compile(r"'[^']*'|\d+")
