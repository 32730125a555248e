"""Wake-on-LAN, the part the gateway and the agent share: the magic packet, the subnets a host's
interfaces are in, the choice of route (pure), and the UDP broadcast that sends the packet.

A route is DIRECT when the gateway machine has an interface in the PC's subnet, else RELAY through
an online agent with one there (one in the PC's group first, never the PC itself), else none.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jiseki.protocol.control import NetInterface, net_interface

WAKE_PORTS = (9, 7)  # discard and echo: what NICs and switches expect
# Interfaces of hypervisors and containers on the PC itself (Linux names; Windows adapter names):
# their MAC wakes nothing.
VIRTUAL_PREFIXES = ("docker", "virbr", "br-", "vmnet", "vboxnet", "lxcbr", "vEthernet", "VirtualBox", "VMware")


def magic_packet(mac: str) -> bytes:
    """6 × 0xFF then the MAC 16 times (102 bytes)."""
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"not a MAC address: {mac!r}")
    return b"\xff" * 6 + raw * 16


def subnet(iface: NetInterface) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(f"{iface.address}/{iface.prefix}", strict=False)


@dataclass(frozen=True)
class Candidate:
    """An online agent that could relay: its host, its group and its reported interfaces."""

    host_id: str
    group_id: int | None
    network: tuple[NetInterface, ...]


@dataclass(frozen=True)
class Route:
    kind: str  # "direct" or "relay"
    broadcast: str
    macs: tuple[str, ...]
    relay: str | None = None  # the relay agent's host id


def choose_route(
    target: Sequence[NetInterface],
    target_id: str,
    target_group: int | None,
    gateway: Sequence[NetInterface],
    candidates: Iterable[Candidate],
) -> Route | None:
    """How to reach the PC's subnets: direct if the gateway is in one of them, else a relay (same
    group first, then by host id so the choice is stable), else None."""
    wanted: dict[ipaddress.IPv4Network, list[str]] = {}
    for iface in target:
        macs = wanted.setdefault(subnet(iface), [])
        if iface.mac not in macs:
            macs.append(iface.mac)
    if not wanted:
        return None
    all_macs = tuple(dict.fromkeys(i.mac for i in target))[:8]
    for iface in gateway:
        if subnet(iface) in wanted:
            return Route("direct", iface.broadcast, all_macs)
    ranked = sorted(
        (c for c in candidates if c.host_id != target_id),
        key=lambda c: (target_group is None or c.group_id != target_group, c.host_id),
    )
    for candidate in ranked:
        for iface in candidate.network:
            if subnet(iface) in wanted:
                return Route("relay", iface.broadcast, all_macs, candidate.host_id)
    return None


def local_interfaces() -> list[NetInterface]:
    """This machine's IPv4 interfaces with their MACs, from psutil (AF_PACKET gives the MAC; the
    gateway's host, and the Linux agent's); loopback, link-local and virtual ones left out. The
    Windows agent reads GetAdaptersAddresses instead (agent/backends.py picks)."""
    import psutil

    found: list[NetInterface] = []
    for name, addrs in psutil.net_if_addrs().items():
        macs = [a.address for a in addrs if a.family == psutil.AF_LINK]
        if not macs or name == "lo" or name.startswith(VIRTUAL_PREFIXES):
            continue
        for a in addrs:
            if a.family != socket.AF_INET or not a.netmask:
                continue
            prefix = ipaddress.IPv4Network(f"0.0.0.0/{a.netmask}").prefixlen
            iface = net_interface({"mac": macs[0], "address": a.address, "prefix": prefix})
            if iface is not None and iface not in found:
                found.append(iface)
    return found[:16]


def send_magic(macs: Iterable[str], broadcast: str) -> int:
    """Broadcast each MAC's magic packet to `broadcast` on ports 9 and 7; the number of packets sent."""
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        for mac in macs:
            packet = magic_packet(mac)
            for port in WAKE_PORTS:
                sock.sendto(packet, (broadcast, port))
                sent += 1
    return sent


def relay_allowed(broadcast: str, own: Sequence[NetInterface]) -> bool:
    """An agent relays only to the broadcast address of one of its own subnets."""
    return any(iface.broadcast == broadcast for iface in own)
