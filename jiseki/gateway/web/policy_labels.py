"""Where an effective policy value came from, in the reader's language.

Policies are named `department:<name>`, `host_group:<name>` or `default` (see `policies_db`); the
audit trail keeps those names, pages show them through the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable

from jiseki.i18n import N_

from ..policy import DEFAULT

_KINDS = {"department": N_("Department {name}"), "host_group": N_("PC group {name}")}


def source_text(_: Callable[..., str], source: str) -> str:
    """One source, or several joined by ", " (allowed hours may come from more than one policy)."""
    return ", ".join(_one(_, part) for part in source.split(", "))


def _one(_: Callable[..., str], part: str) -> str:
    if part == DEFAULT.name:
        return _("Default")
    kind, sep, name = part.partition(":")
    return _(_KINDS[kind], name=name) if sep and kind in _KINDS else part
