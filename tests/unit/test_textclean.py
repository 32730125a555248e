from hypothesis import given
from hypothesis import strategies as st

from jiseki.gateway.textclean import has_controls, without_controls


def test_controls_are_dropped_and_breaks_kept_on_request() -> None:
    assert without_controls("山\x00田\x1b太\x7f郎\x85") == "山田太郎"
    assert without_controls("a\r\nb\tc") == "abc"
    assert without_controls("a\r\nb\tc\x00", keep_breaks=True) == "a\r\nb\tc"
    assert has_controls("a\x00") and not has_controls("a\nb", allow_breaks=True) and has_controls("a\nb")
    assert not has_controls("ｶﾅ　全角スペース")


@given(st.text())
def test_result_never_holds_a_control_and_keeps_everything_else(value: str) -> None:
    cleaned = without_controls(value)
    assert not has_controls(cleaned)
    assert cleaned == "".join(c for c in value if not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F))
