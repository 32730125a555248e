"""The checks every section of jiseki.toml shares; a bad value is a `ConfigError` naming its key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class ConfigError(ValueError):
    pass


def check_int(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{key}: must be an integer from {lo} to {hi}, got {value!r}")
    return value


def check_str(key: str, value: Any, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str) or (not allow_empty and not value):
        raise ConfigError(f"{key}: must be a {'non-empty ' if not allow_empty else ''}string, got {value!r}")
    if "\x00" in value:
        raise ConfigError(f"{key}: must not contain NUL characters")
    return value


def check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false, got {value!r}")
    return value


def check_table(name: str, raw: Any, validators: Mapping[str, Callable[[str, Any], Any]]) -> dict[str, Any]:
    """A section's values, each checked by its key's validator: ConfigError for something that is not
    a table, an unknown key (the known ones listed) or a bad value."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: must be a table")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in validators:
            raise ConfigError(f"{name}.{key}: unknown setting (known: {', '.join(sorted(validators))})")
        values[key] = validators[key](f"{name}.{key}", value)
    return values
