"""The gateway's reading of an agent's control messages (hello, state): hostile JSON in, clean columns out."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jiseki.agent.host.base import HostState
from jiseki.agent.runner import state_fields
from jiseki.gateway.broker import _state_values
from jiseki.gateway.textclean import has_controls
from jiseki.gateway.web.sockets import _host_state, _valid_hello

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
messages = st.dictionaries(
    st.sampled_from(["type", "hostname", "os", "version", "user", "locked", "other"]), json_values, max_size=7
)


@given(messages)
def test_hello_and_state_keep_only_known_fields_of_the_right_type(message: dict[str, Any]) -> None:
    hello = _valid_hello({**message, "type": "hello"})
    assert hello is not None and set(hello) <= {"hostname", "os", "version", "user", "locked"}
    for key, value in hello.items():
        assert isinstance(value, bool) if key == "locked" else isinstance(value, str) and not has_controls(value)
    values = _state_values(_host_state(message))
    assert set(values) <= {"signed_in_user", "locked"}
    user = values.get("signed_in_user")
    assert user is None or (isinstance(user, str) and 0 < len(user) <= 255)
    assert _valid_hello({**message, "type": "ping"}) is None


def test_what_the_agent_sends_is_what_the_gateway_stores() -> None:
    sent = state_fields(HostState("PREF\\yamada", True))
    assert sent == {"user": "PREF\\yamada", "locked": True}
    assert _state_values(_host_state(sent)) == {"signed_in_user": "PREF\\yamada", "locked": True}
    assert state_fields(HostState(None, None)) == {}  # what the platform cannot tell is left out
    assert _state_values(_host_state({"user": ""})) == {"signed_in_user": None}  # nobody at the desk
