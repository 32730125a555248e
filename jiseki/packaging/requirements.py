"""Which lines of requirements/*.txt a Windows x64 CPython 3.13 needs.

`pip download --platform win_amd64` does not evaluate environment markers for the target platform (it
uses the running interpreter's), so the markers are evaluated here, for Windows. Only the simple
markers requirements files use are understood (`name op "value"` joined by `and` / `or`, no
parentheses); anything else is an error rather than a guess."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# The target's marker environment (PEP 508): the embeddable CPython 3.13 for Windows x64.
WINDOWS_MARKERS: Mapping[str, str] = {
    "sys_platform": "win32",
    "platform_system": "Windows",
    "os_name": "nt",
    "platform_machine": "AMD64",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.13",
    "python_full_version": "3.13.0",
}

_COMPARISON = re.compile(r"""^\s*([a-z_]+)\s*(==|!=|<=|>=|<|>)\s*(["'])(.*?)\3\s*$""")
_VERSIONED = frozenset({"python_version", "python_full_version"})
_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class MarkerError(ValueError):
    pass


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        raise MarkerError(f"not a plain version: {text!r}") from None


def _compare(name: str, op: str, value: str, env: Mapping[str, str]) -> bool:
    if name not in env:
        raise MarkerError(f"unknown marker variable {name!r}")
    if name in _VERSIONED:
        return bool(_OPERATORS[op](_version(env[name]), _version(value)))
    if op not in ("==", "!="):
        raise MarkerError(f"{name} {op} {value!r}: only == and != compare strings")
    return bool(_OPERATORS[op](env[name], value))


def marker_holds(marker: str, env: Mapping[str, str] = WINDOWS_MARKERS) -> bool:
    """Whether a requirement's environment marker holds on the target (`and` binds tighter than `or`)."""
    if "(" in marker or ")" in marker:
        raise MarkerError(f"parentheses in markers are not supported: {marker!r}")
    alternatives = re.split(r"\s+or\s+", marker.strip())
    for alternative in alternatives:
        terms = re.split(r"\s+and\s+", alternative)
        results = []
        for term in terms:
            match = _COMPARISON.match(term)
            if match is None:
                raise MarkerError(f"cannot read the marker {term!r}")
            name, op, _quote, value = match.groups()
            results.append(_compare(name, op, value, env))
        if all(results):
            return True
    return False


def windows_requirements(lines: Iterable[str], env: Mapping[str, str] = WINDOWS_MARKERS) -> list[str]:
    """The requirement specifiers (markers removed) of the lines that apply on Windows, in order.
    Comments, blank lines and lines whose marker does not hold (`sys_platform == "linux"`) are left out."""
    found: list[str] = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if text.startswith("-"):
            raise MarkerError(f"pip options are not supported in the requirement files: {text!r}")
        requirement, _, marker = text.partition(";")
        if marker.strip() and not marker_holds(marker, env):
            continue
        found.append(requirement.strip())
    return found
