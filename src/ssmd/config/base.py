"""Shared pieces of every config model: immutability, unknown-key warnings, error formatting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from ssmd.config.duration import parse_duration


class ConfigModel(BaseModel):
    """Frozen model that keeps unknown keys so that they can be reported as warnings, not lost."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A duration string (``15m``) validated at load time; convert with :func:`parse_duration`."""


def format_loc(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as the path a user reads in YAML: ``versions[0].endpoint``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def unknown_keys(model: BaseModel, prefix: tuple[int | str, ...] = ()) -> Iterator[str]:
    """Yield the paths of keys that no model field claimed, recursively."""
    for key in model.model_extra or {}:
        yield format_loc((*prefix, key))
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _walk(value, (*prefix, _yaml_name(model, name)))


def _walk(value: Any, prefix: tuple[int | str, ...]) -> Iterator[str]:
    if isinstance(value, BaseModel):
        yield from unknown_keys(value, prefix)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*prefix, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*prefix, key))


def _yaml_name(model: BaseModel, name: str) -> str:
    alias = type(model).model_fields[name].alias
    return alias or name
