"""The control channel's wire contract: vectors (the texts the agent and gateway sent before the
messages were typed), hostile JSON, and fuzzing of the parser."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.agent.policy import parse_agent_policy
from jiseki.protocol import ProtocolError
from jiseki.protocol.control import (
    REGISTRY,
    AgentHello,
    AgentState,
    ControlMessage,
    Offer,
    Sender,
    from_object,
    parse,
    serialise,
    to_object,
)
from jiseki.protocol.limits import MAX_AGENT_VERSION, MAX_CONTROL_MESSAGE, MAX_HOSTNAME, MAX_OS, MAX_USER

VECTORS = Path(__file__).parent.parent / "vectors"
VALID = json.loads((VECTORS / "control_valid.json").read_text("utf-8"))
INVALID = json.loads((VECTORS / "control_invalid.json").read_text("utf-8"))
_LIMITS = {"hostname": MAX_HOSTNAME, "os": MAX_OS, "version": MAX_AGENT_VERSION, "user": MAX_USER}


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_control_vector(vector: dict[str, Any]) -> None:
    sender = Sender(vector["sender"])
    msg = parse(vector["text"], sender)
    assert msg is not None
    assert to_object(msg) == vector["message"]
    if vector["exact"]:  # byte for byte what was sent before the messages were typed
        assert serialise(msg) == vector["text"]
        assert from_object(vector["message"], sender) == msg


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_control_vector(vector: dict[str, Any]) -> None:
    sender = Sender(vector["sender"])
    if vector["outcome"] == "error":
        with pytest.raises(ProtocolError):
            parse(vector["text"], sender)
    else:  # a type this side does not read: ignored, so newer peers can add messages
        assert parse(vector["text"], sender) is None


def test_text_nested_past_the_parser_or_over_the_limit_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        parse("[" * 30000 + "]" * 30000, Sender.AGENT)
    too_long = json.dumps({"type": "state", "user": "u" * MAX_CONTROL_MESSAGE})
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        parse(too_long, Sender.AGENT)


@pytest.mark.parametrize("vector", [v for v in VALID if v["message"]["type"] == "offer"], ids=lambda v: v["name"])
def test_the_agent_reads_the_same_policy_as_from_the_raw_offer(vector: dict[str, Any]) -> None:
    offer = parse(vector["text"], Sender.GATEWAY)
    assert isinstance(offer, Offer)
    assert parse_agent_policy(offer.policy) == parse_agent_policy(json.loads(vector["text"]).get("policy"))


@pytest.mark.parametrize("vector", [v for v in VALID if v["message"]["type"] == "offer"], ids=lambda v: v["name"])
def test_an_offer_passed_on_by_another_node_reaches_the_agent_unchanged(vector: dict[str, Any]) -> None:
    offer = parse(vector["text"], Sender.GATEWAY)
    assert isinstance(offer, Offer)
    signal = json.loads(json.dumps({"type": "offer", "host": "h", "offer": to_object(offer)}))  # the NOTIFY payload
    passed_on = from_object(signal["offer"], Sender.GATEWAY)
    assert passed_on == offer and serialise(passed_on) == serialise(offer)


def test_registry_entries_are_complete_and_each_has_an_exact_vector() -> None:
    classes = [e.cls for e in REGISTRY]
    assert sorted(classes, key=str) == sorted(typing.get_args(ControlMessage), key=str)
    assert len({(e.sender, e.name) for e in REGISTRY}) == len(REGISTRY)
    for entry in REGISTRY:
        assert sorted(entry.layout) == sorted(["type", *(f.name for f in dataclasses.fields(entry.cls))])
        exact = [v for v in VALID if v["exact"] and v["message"]["type"] == entry.name]
        assert exact and all(v["sender"] == entry.sender.value for v in exact), entry.name


# ---- fuzzing --------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_KEYS = [
    *("type", "hostname", "os", "version", "user", "locked", "session", "ticket", "path", "url", "policy", "x"),
    *("network", "id", "macs", "broadcast", "sent", "error"),
]
typed_objects = st.tuples(
    st.dictionaries(st.sampled_from(_KEYS), json_values, max_size=8),
    st.sampled_from([e.name for e in REGISTRY]),
).map(lambda pair: {**pair[0], "type": pair[1]})


def _check_clean(msg: ControlMessage | None) -> None:
    """What parses holds only what the contract allows, and goes round the wire unchanged."""
    if msg is None:
        return
    if isinstance(msg, AgentHello | AgentState):
        for key, limit in _LIMITS.items():
            value = getattr(msg, key, None)
            assert value is None or (isinstance(value, str) and len(value) <= limit)
            assert value is None or not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
        assert msg.locked is None or isinstance(msg.locked, bool)
    if isinstance(msg, Offer):
        assert all(isinstance(k, str) and not isinstance(v, list | dict) for k, v in msg.policy.items())
    sender = next(e.sender for e in REGISTRY if e.cls is type(msg))
    assert parse(serialise(msg), sender) == msg


@settings(max_examples=1000, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_message_none_or_protocol_error(text: str) -> None:
    for sender in Sender:
        try:
            _check_clean(parse(text, sender))
        except ProtocolError:
            pass


@settings(max_examples=1000, deadline=None)
@given(typed_objects)
def test_any_object_of_a_known_type_reads_clean(obj: dict[str, Any]) -> None:
    text = json.dumps(obj)
    for sender in Sender:
        try:
            _check_clean(parse(text, sender))
        except ProtocolError:
            # only an offer, a wake or its answer can be unusable
            assert (obj["type"], sender) in {
                ("offer", Sender.GATEWAY),
                ("wake", Sender.GATEWAY),
                ("wake_done", Sender.AGENT),
            }
