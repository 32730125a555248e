"""DOM `KeyboardEvent.code` -> USB HID usage, loaded from the table shared with the viewer."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

KEYBOARD_PAGE = 0x07


@cache
def dom_code_to_usage() -> dict[str, int]:
    """The full table; usages carry the HID page in their high 16 bits (e.g. KeyA -> 0x00070004)."""
    doc = json.loads(resources.files(__package__).joinpath("keycodes.json").read_text("utf-8"))
    page = int(doc["page"])
    return {code: (page << 16) | int(usage_id) for code, usage_id in doc["codes"].items()}


def usage_for_code(code: str) -> int | None:
    return dom_code_to_usage().get(code)
