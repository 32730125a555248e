"""Control characters in text that arrived from the network.

PostgreSQL cannot store NUL in a text column (the driver raises), and no login ID, search, host
name or message needs C0/C1 control characters; dropping them keeps a hostile byte from turning a
search or a failed login into a server error.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROLS_AND_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def without_controls(value: str, *, keep_breaks: bool = False) -> str:
    """`value` without control characters; tab, CR and LF stay when `keep_breaks` (multi-line fields)."""
    return (_CONTROLS if keep_breaks else _CONTROLS_AND_BREAKS).sub("", value)


def has_controls(value: str, *, allow_breaks: bool = False) -> bool:
    return bool((_CONTROLS if allow_breaks else _CONTROLS_AND_BREAKS).search(value))
