"""pydantic's validation errors in the words of someone editing YAML.

pydantic says "Input should be a valid dictionary or instance of ArchiverNats"; the operator wrote
``nats: nats://host:4222`` and needs to read "expected a mapping with keys url, stream, consumer, filter; got a
string". Each error type we can meet in a config file is translated here; values are shown only when short,
because a long value in the wrong place may be a pasted secret.
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from ssmd.config.urls import redact_url

_SHOWN_MAX = 24
"""Longest value quoted back (an API key is a 36-character UUID: never shown)."""

_PATTERNS = {
    r"^[A-Za-z0-9_-]+$": "use letters, digits, '-' and '_' only (it becomes part of NATS subjects and stream names)",
    r"^[^.*>\s]+$": "expected a name without '.', '*', '>' or spaces",
    r"^[^:\s]+:[^:\s]+$": "expected NAME:VERSION, like trade:v1",
}
_MAPPING = ("model_type", "model_attributes_type", "dataclass_type")
_EXPECTED = {kind: words for kinds, words in (
    (("dict_type",), "a mapping"),
    (("list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type"), "a list"),
    (("string_type", "string_unicode", "string_sub_type"), "text"),
    (("int_type", "int_parsing", "int_from_float", "int_parsing_size"), "a whole number"),
    (("float_type", "float_parsing", "decimal_type", "decimal_parsing"), "a number"),
    (("bool_type", "bool_parsing"), "true or false"),
    (("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_past",
      "date_future"), "a date like 2026-01-31"),
) for kind in kinds}
"""pydantic error type -> what the field expected, in YAML words."""
_BOUNDS = {"greater_than_equal": ("ge", "of at least"), "less_than_equal": ("le", "of at most"),
           "greater_than": ("gt", "greater than"), "less_than": ("lt", "less than")}


def relevant(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop pydantic's echo: a list whose items failed is also reported "too short" (0 valid items)."""
    def echo(err: ErrorDetails) -> bool:
        loc = err["loc"]
        return err["type"] == "too_short" and bool(err.get("input")) and any(
            other["loc"][: len(loc)] == loc and len(other["loc"]) > len(loc) for other in errors)
    return [err for err in errors if not echo(err)]


def describe(err: ErrorDetails, root: type[BaseModel]) -> str:
    """One error of ``root.model_validate`` as "expected ...; got ..." (or the validator's own sentence)."""
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    got = f"; got {describe_value(value)}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _MAPPING:
        return f"expected {_mapping_of(_model_named(root, ctx.get('class_name')))}{got}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}{got}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        want = choices[0] if len(choices) == 1 else f"one of {', '.join(choices)}"
        plain = isinstance(value, str) and _short(value) and "://" not in value
        return f"expected {want}; got {value!r}" if plain else f"expected {want}{got}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return _PATTERNS.get(pattern, f"does not have the expected form {pattern}") + got
    if kind == "string_too_short":
        return f"expected at least {_count(ctx.get('min_length'), 'character')}{got}"
    if kind == "string_too_long":
        return f"expected at most {_count(ctx.get('max_length'), 'character')}{got}"
    if kind == "too_short":
        return f"expected a list of at least {_count(ctx.get('min_length'), 'item')}{got}"
    if kind == "too_long":
        return f"expected a list of at most {_count(ctx.get('max_length'), 'item')}{got}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"expected a number {words} {ctx.get(key)}{got}"
    return str(err["msg"])


def describe_value(value: Any) -> str:
    """What the YAML held, in YAML words: ``a string ('15m')``, ``a list``, ``a mapping``, ``nothing``."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if not value:
            return "an empty string"
        shown = redact_url(value) if "://" in value else value
        return f"a string ({shown!r})" if _short(shown) else "a string"
    if isinstance(value, list | tuple):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, dt.date):
        return "a date"
    return type(value).__name__


def _short(text: str) -> bool:
    return bool(text) and len(text) <= _SHOWN_MAX and "\n" not in text


def yaml_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model reads, as spelled in YAML (aliases such as ``schema``), in declaration order."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _mapping_of(model: type[BaseModel] | None) -> str:
    if model is None:
        return "a mapping"
    keys = yaml_keys(model)
    return f"a mapping with key {keys[0]}" if len(keys) == 1 else f"a mapping with keys {', '.join(keys)}"


def _count(number: object, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _model_named(root: type[BaseModel], name: object) -> type[BaseModel] | None:
    """The model class called ``name`` among those ``root`` nests (pydantic names the class, not the field)."""
    seen: set[type[BaseModel]] = set()
    stack: list[Any] = [root]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in seen:
                continue
            seen.add(tp)
            if tp.__name__ == name:
                return tp
            stack.extend(field.annotation for field in tp.model_fields.values())
        else:
            stack.extend(typing.get_args(tp))
    return None
