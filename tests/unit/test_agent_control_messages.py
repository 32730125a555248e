"""The gateway's reading of an agent's control messages (hello, state): hostile JSON in, clean columns out."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jiseki.agent.host.base import HostState
from jiseki.agent.runner import hello_message, probe_capture
from jiseki.gateway.broker import _state_values
from jiseki.gateway.textclean import has_controls
from jiseki.protocol.control import AgentHello, AgentState, Sender, from_object, parse, serialise

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
messages = st.dictionaries(
    st.sampled_from(
        ["type", "hostname", "os", "version", "user", "locked", "capture", "capture_note", "service", "other"]
    ),
    json_values,
    max_size=10,
)


@given(messages)
def test_hello_and_state_keep_only_known_fields_of_the_right_type(message: dict[str, Any]) -> None:
    hello = from_object({**message, "type": "hello"}, Sender.AGENT)
    assert isinstance(hello, AgentHello)
    for key in ("hostname", "os", "version", "user"):
        value = getattr(hello, key)
        assert value is None or (isinstance(value, str) and not has_controls(value))
        assert (value is None) == (not isinstance(message.get(key), str))
    assert hello.locked is (message.get("locked") if isinstance(message.get("locked"), bool) else None)
    state = from_object({**message, "type": "state"}, Sender.AGENT)
    assert isinstance(state, AgentState)
    values = _state_values(state)
    assert set(values) <= {"signed_in_user", "locked", "capture_method", "capture_note", "agent_service"}
    service = values.get("agent_service")
    assert service is None or (isinstance(service, str) and service.isascii() and 0 < len(service) <= 16)
    method = values.get("capture_method")
    assert method is None or (isinstance(method, str) and method.isascii() and 0 < len(method) <= 16)
    note = values.get("capture_note")
    assert note is None or (isinstance(note, str) and not has_controls(note) and len(note) <= 200)
    user = values.get("signed_in_user")
    assert user is None or (isinstance(user, str) and 0 < len(user) <= 255)
    assert not isinstance(from_object({**message, "type": "ping"}, Sender.AGENT), AgentHello)


def test_what_the_agent_sends_is_what_the_gateway_stores() -> None:
    sent = serialise(AgentState(user="PREF\\yamada", locked=True))
    assert json.loads(sent) == {"type": "state", "user": "PREF\\yamada", "locked": True}
    received = parse(sent, Sender.AGENT)
    assert isinstance(received, AgentState)
    assert _state_values(received) == {"signed_in_user": "PREF\\yamada", "locked": True}
    unknown = json.loads(serialise(hello_message(HostState(None, None))))
    # What the platform cannot tell is left out; how the agent runs is always said.
    assert set(unknown) == {"type", "hostname", "os", "version", "service"} and unknown["service"] == "process"
    as_service = parse(serialise(hello_message(HostState(None, None), service="windows-service")), Sender.AGENT)
    assert isinstance(as_service, AgentHello) and _state_values(as_service) == {"agent_service": "windows-service"}
    nobody = parse('{"type": "state", "user": ""}', Sender.AGENT)
    assert isinstance(nobody, AgentState) and _state_values(nobody) == {"signed_in_user": None}  # nobody at the desk


class _Capture:
    method = "gdi"
    fallback_reason = "DuplicateOutput: E_NOTIMPL"
    closed = False

    def close(self) -> None:
        self.closed = True


def test_the_hello_tells_the_capture_method_and_why_it_fell_back() -> None:
    capture = _Capture()
    info = probe_capture(lambda: capture)  # type: ignore[arg-type,return-value]
    assert info == ("gdi", "DuplicateOutput: E_NOTIMPL") and capture.closed
    hello = parse(serialise(hello_message(HostState(None, None), info)), Sender.AGENT)
    assert isinstance(hello, AgentHello)
    assert _state_values(hello) == {
        "capture_method": "gdi",
        "capture_note": "DuplicateOutput: E_NOTIMPL",
        "agent_service": "process",
    }
    best = parse(serialise(AgentState(capture="dxgi", capture_note="")), Sender.AGENT)
    assert isinstance(best, AgentState)
    assert _state_values(best) == {"capture_method": "dxgi", "capture_note": None}  # the old reason is cleared


def test_a_capture_that_cannot_open_is_reported_not_raised() -> None:
    def broken() -> _Capture:
        raise OSError("no display")

    assert probe_capture(broken) == ("none", "OSError: no display")  # type: ignore[arg-type]
