"""Shared by the Windows-side test scripts (run by Windows CPython under Wine): where the result goes."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any


def main(body: Callable[[], dict[str, Any]]) -> None:
    """Run `body` and write its result (or the exception it raised) to $JISEKI_RESULT as JSON."""
    try:
        result = body()
    except BaseException as exc:
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    with open(os.environ["JISEKI_RESULT"], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    sys.stdout.flush()
