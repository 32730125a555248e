"""What the agent agrees to type from a TEXT message (hostile input)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jiseki.agent.input.text import refusal


@pytest.mark.parametrize(
    "text",
    ["日本語の入力テスト、ｶﾀｶﾅ、①", "a", " ", "¥_\\@[:", "𠮷野家", "葛\U000e0100", "👩\u200d💻", "\ue000外字", "é"],
)
def test_ordinary_text_is_typed(text: str) -> None:
    assert refusal(text) is None


@pytest.mark.parametrize(
    "text",
    [
        *("", "ls\n", "a\rb", "\t", "\x1b[31m", "\x7f", "\x85", "\x00"),
        *("x\ufffe", "\ufdd0", "\U0010ffff", "abc\u202egpj.exe", "\u2066"),
    ],
)
def test_commands_and_tricks_are_refused(text: str) -> None:
    assert refusal(text) is not None


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1))
def test_refused_only_for_a_reason_we_name(text: str) -> None:
    reason = refusal(text)
    if reason is not None:
        assert any(word in reason for word in ("non-character", "bidirectional"))


@given(st.text(min_size=1))
def test_any_control_character_refuses_the_whole_text(text: str) -> None:
    if any(unicodedata.category(c) == "Cc" for c in text):
        assert refusal(text) is not None


FILTER = json.loads((Path(__file__).parent.parent / "vectors" / "text_filter.json").read_text("utf-8"))["cases"]


@pytest.mark.parametrize("case", FILTER, ids=lambda c: repr(c["input"])[:24])
def test_what_the_viewer_leaves_out_is_what_the_agent_refuses(case: dict[str, object]) -> None:
    """The viewer removes these characters (and tells the user, issue 12 item 24); the rest must be
    text the agent types, and the agent must refuse exactly the texts the viewer had to clean."""
    typed, original = str(case["typed"]), str(case["input"])
    assert refusal(typed) is None or typed == ""
    assert (refusal(original) is not None) == bool(case["removed"])
    assert "".join(ch for ch in original if ord(ch) not in case["removed"]) == typed  # type: ignore[operator]
