"""Wake-on-LAN's pure parts: the magic packet, the route (direct, relay, none), the reading of the
interfaces an agent reports and of a `wake`, and what a relay agent agrees to send."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.agent.runner import answer_wake
from jiseki.gateway.wake import read_network
from jiseki.protocol import ProtocolError
from jiseki.protocol.control import NetInterface, Sender, Wake, WakeDone, net_interface, parse, serialise
from jiseki.wol import Candidate, choose_route, magic_packet, relay_allowed, send_magic


def iface(mac: str, address: str, prefix: int = 24) -> NetInterface:
    found = net_interface({"mac": mac, "address": address, "prefix": prefix})
    assert found is not None
    return found


def test_magic_packet_is_six_ff_then_the_mac_sixteen_times() -> None:
    packet = magic_packet("52:54:00:12:34:56")
    assert len(packet) == 102
    assert packet[:6] == b"\xff" * 6
    assert packet[6:] == bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]) * 16
    assert magic_packet("52-54-00-12-34-56") == packet
    with pytest.raises(ValueError):
        magic_packet("52:54:00:12:34")


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.4", "prefix": 24}, True),
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.4", "prefix": 24, "broadcast": "10.2.3.255"}, True),
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.4", "prefix": 24, "broadcast": "10.2.3.1"}, False),
        ({"mac": "52:54:00:12:34:56", "address": "127.0.0.1", "prefix": 8}, False),  # loopback
        ({"mac": "52:54:00:12:34:56", "address": "169.254.3.4", "prefix": 16}, False),  # link-local
        ({"mac": "52:54:00:12:34:56", "address": "fe80::1", "prefix": 64}, False),  # IPv4 only
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.4", "prefix": 31}, False),
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.4", "prefix": True}, False),
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.255", "prefix": 24}, False),  # the broadcast itself
        ({"mac": "ff:ff:ff:ff:ff:ff", "address": "10.2.3.4", "prefix": 24}, False),
        ({"mac": "00:00:00:00:00:00", "address": "10.2.3.4", "prefix": 24}, False),
        ({"mac": "01:00:5e:00:00:01", "address": "10.2.3.4", "prefix": 24}, False),  # multicast
        ({"mac": "52:54:00:12:34:5g", "address": "10.2.3.4", "prefix": 24}, False),
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.04", "prefix": 24}, False),
        ({"mac": "52:54:00:12:34:56", "address": "10.2.3.4 ", "prefix": 24}, False),
        ("52:54:00:12:34:56", False),
    ],
)
def test_a_reported_interface_is_read_strictly(raw: object, ok: bool) -> None:
    assert (net_interface(raw) is not None) is ok


def test_at_most_sixteen_interfaces_are_kept_and_the_gateway_reads_its_column_again() -> None:
    many = [{"mac": f"52:54:00:00:00:{i:02x}", "address": f"10.0.{i}.2", "prefix": 24} for i in range(40)]
    hello = parse(json.dumps({"type": "hello", "network": many}), Sender.AGENT)
    assert hello is not None and len(hello.network or ()) == 16  # type: ignore[union-attr]
    assert len(read_network(json.dumps(many))) == 16
    assert read_network("not json") == () and read_network('{"a": 1}') == () and read_network(None) == ()


def test_a_wake_is_refused_unless_well_formed() -> None:
    good = {"type": "wake", "id": "a" * 32, "macs": ["52:54:00:12:34:56"], "broadcast": "10.2.3.255"}
    wake = parse(json.dumps(good), Sender.GATEWAY)
    assert wake == Wake("a" * 32, ("52:54:00:12:34:56",), "10.2.3.255")
    assert wake is not None and parse(serialise(wake), Sender.GATEWAY) == wake
    bad_fields: list[dict[str, object]] = [
        {"macs": []},
        {"macs": ["52:54:00:12:34:56"] * 9},
        {"macs": ["52:54:00:12:34:56", 7]},
        {"macs": ["52-54-00-12-34-56"]},  # the gateway sends the canonical form only
        {"macs": "52:54:00:12:34:56"},
        {"broadcast": "gateway.example"},
        {"broadcast": "10.2.3.256"},
        {"id": "x"},
    ]
    for bad in bad_fields:
        with pytest.raises(ProtocolError):
            parse(json.dumps({**good, **bad}), Sender.GATEWAY)
    assert parse(json.dumps(good), Sender.AGENT) is None  # an agent never sends one
    done = parse('{"type":"wake_done","id":"' + "b" * 32 + '","sent":true,"error":"Bad Token"}', Sender.AGENT)
    assert done == WakeDone("b" * 32, 0, None)


def test_a_relay_agent_sends_only_to_its_own_subnets() -> None:
    assert not relay_allowed("10.2.3.255", ())
    own = (iface("52:54:00:00:00:01", "10.2.3.4"),)
    assert relay_allowed("10.2.3.255", own)
    assert not relay_allowed("10.2.4.255", own) and not relay_allowed("255.255.255.255", own)
    refused = answer_wake(Wake("c" * 32, ("52:54:00:12:34:56",), "192.0.2.255"), own)
    assert refused == WakeDone("c" * 32, 0, "refused")


def test_send_magic_broadcasts_to_ports_9_and_7_on_loopback() -> None:
    """The socket part (the namespaces test covers real subnets): 127.255.255.255 reaches 127.0.0.1."""
    receivers = []
    try:
        for port in (9, 7):
            r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                r.bind(("0.0.0.0", port))
            except PermissionError:
                pytest.skip("ports 9 and 7 need root")
            r.settimeout(2)
            receivers.append(r)
        assert send_magic(["52:54:00:12:34:56"], "127.255.255.255") == 2
        for r in receivers:
            assert r.recv(200) == magic_packet("52:54:00:12:34:56")
    finally:
        for r in receivers:
            r.close()


# ---- the route -------------------------------------------------------------------------------

subnets = st.integers(0, 7).map(lambda n: f"10.{n}.0")
macs = st.integers(1, 250).map(lambda n: f"52:54:00:00:01:{n:02x}")


@st.composite
def interfaces(draw: st.DrawFn) -> NetInterface:
    return iface(draw(macs), f"{draw(subnets)}.{draw(st.integers(2, 250))}")


@st.composite
def candidates(draw: st.DrawFn) -> Candidate:
    return Candidate(
        draw(st.sampled_from(["pc-a", "pc-b", "pc-c", "pc-d", "target"])),
        draw(st.none() | st.integers(1, 3)),
        tuple(draw(st.lists(interfaces(), max_size=3))),
    )


def _net(i: NetInterface) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{i.address}/{i.prefix}", strict=False)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(interfaces(), max_size=3),
    st.none() | st.integers(1, 3),
    st.lists(interfaces(), max_size=2),
    st.lists(candidates(), max_size=6),
)
def test_the_route_is_direct_then_relay_in_the_group_then_any_else_none(
    target: list[NetInterface], group: int | None, gateway: list[NetInterface], others: list[Candidate]
) -> None:
    route = choose_route(target, "target", group, gateway, others)
    wanted = {_net(i) for i in target}
    near = [c for c in others if c.host_id != "target" and any(_net(i) in wanted for i in c.network)]
    if not target:
        assert route is None
    elif any(_net(i) in wanted for i in gateway):
        assert route is not None and route.kind == "direct" and route.relay is None
        assert any(i.broadcast == route.broadcast for i in gateway)
    elif not near:
        assert route is None  # never the PC itself, never a PC of another subnet
    else:
        assert route is not None and route.kind == "relay" and route.relay != "target"
        chosen = [c for c in near if c.host_id == route.relay]
        assert chosen and any(i.broadcast == route.broadcast and _net(i) in wanted for c in chosen for i in c.network)
        if group is not None and any(c.group_id == group for c in near):
            assert any(c.group_id == group for c in chosen)  # the PC's own group first
    if route is not None:
        assert set(route.macs) == {i.mac for i in target} and 0 < len(route.macs) <= 8


def test_the_windows_adapter_layouts_match_the_x64_headers() -> None:
    """Offsets of IP_ADAPTER_ADDRESSES_LH and IP_ADAPTER_UNICAST_ADDRESS_LH on x64 (iptypes.h)."""
    from jiseki.agent.win32.netif import IP_ADAPTER_ADDRESSES, IP_ADAPTER_UNICAST_ADDRESS

    adapter = {"Next": 8, "FirstUnicastAddress": 24, "PhysicalAddress": 80, "IfType": 100, "OperStatus": 104}
    assert {name: getattr(IP_ADAPTER_ADDRESSES, name).offset for name in adapter} == adapter
    unicast = {"Next": 8, "Address": 16, "OnLinkPrefixLength": 56}
    assert {name: getattr(IP_ADAPTER_UNICAST_ADDRESS, name).offset for name in unicast} == unicast
