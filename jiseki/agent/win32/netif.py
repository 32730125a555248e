"""The PC's IPv4 interfaces and their MACs on Windows (ctypes): GetAdaptersAddresses (iphlpapi), for
Wake-on-LAN. Ethernet and Wi-Fi adapters that are up; loopback, tunnels and hypervisors' adapters left
out. The layouts are read on Linux by tests/unit/test_wol.py; tests/wine runs the call."""

from __future__ import annotations

import ctypes
import ipaddress
from typing import Any

from jiseki.protocol.control import NetInterface, net_interface

AF_INET = 2
GAA_FLAG_SKIP_ANYCAST = 0x2
GAA_FLAG_SKIP_MULTICAST = 0x4
GAA_FLAG_SKIP_DNS_SERVER = 0x8
ERROR_BUFFER_OVERFLOW = 111
IF_TYPE_ETHERNET_CSMACD = 6
IF_TYPE_IEEE80211 = 71
IF_OPER_STATUS_UP = 1


class SOCKADDR_IN(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_ushort), ("addr", ctypes.c_ubyte * 4)]


class SOCKET_ADDRESS(ctypes.Structure):
    _fields_ = [("lpSockaddr", ctypes.c_void_p), ("iSockaddrLength", ctypes.c_int)]


class IP_ADAPTER_UNICAST_ADDRESS(ctypes.Structure):
    pass


IP_ADAPTER_UNICAST_ADDRESS._fields_ = [
    ("Length", ctypes.c_uint32),
    ("Flags", ctypes.c_uint32),
    ("Next", ctypes.POINTER(IP_ADAPTER_UNICAST_ADDRESS)),
    ("Address", SOCKET_ADDRESS),
    ("PrefixOrigin", ctypes.c_int),
    ("SuffixOrigin", ctypes.c_int),
    ("DadState", ctypes.c_int),
    ("ValidLifetime", ctypes.c_uint32),
    ("PreferredLifetime", ctypes.c_uint32),
    ("LeaseLifetime", ctypes.c_uint32),
    ("OnLinkPrefixLength", ctypes.c_ubyte),
]


class IP_ADAPTER_ADDRESSES(ctypes.Structure):
    """The first fields of IP_ADAPTER_ADDRESSES_LH (the API fills a longer one; these come first)."""


IP_ADAPTER_ADDRESSES._fields_ = [
    ("Length", ctypes.c_uint32),
    ("IfIndex", ctypes.c_uint32),
    ("Next", ctypes.POINTER(IP_ADAPTER_ADDRESSES)),
    ("AdapterName", ctypes.c_char_p),
    ("FirstUnicastAddress", ctypes.POINTER(IP_ADAPTER_UNICAST_ADDRESS)),
    ("FirstAnycastAddress", ctypes.c_void_p),
    ("FirstMulticastAddress", ctypes.c_void_p),
    ("FirstDnsServerAddress", ctypes.c_void_p),
    ("DnsSuffix", ctypes.c_wchar_p),
    ("Description", ctypes.c_wchar_p),
    ("FriendlyName", ctypes.c_wchar_p),
    ("PhysicalAddress", ctypes.c_ubyte * 8),
    ("PhysicalAddressLength", ctypes.c_uint32),
    ("Flags", ctypes.c_uint32),
    ("Mtu", ctypes.c_uint32),
    ("IfType", ctypes.c_uint32),
    ("OperStatus", ctypes.c_int),
]


def _virtual(adapter: Any) -> bool:
    from jiseki.wol import VIRTUAL_PREFIXES

    names = (adapter.FriendlyName or "", adapter.Description or "")
    return any(name.startswith(VIRTUAL_PREFIXES) or "Virtual" in name for name in names)


def adapter_interfaces() -> list[NetInterface]:
    iphlpapi = ctypes.WinDLL("iphlpapi")  # type: ignore[attr-defined]
    flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER
    size = ctypes.c_ulong(16 * 1024)
    for _ in range(3):
        buffer = ctypes.create_string_buffer(size.value)
        result = iphlpapi.GetAdaptersAddresses(AF_INET, flags, None, buffer, ctypes.byref(size))
        if result != ERROR_BUFFER_OVERFLOW:
            break
    if result != 0:
        raise OSError(f"GetAdaptersAddresses failed: {result}")
    found: list[NetInterface] = []
    adapter = ctypes.cast(buffer, ctypes.POINTER(IP_ADAPTER_ADDRESSES))
    while adapter:
        a = adapter.contents
        usable = a.IfType in (IF_TYPE_ETHERNET_CSMACD, IF_TYPE_IEEE80211) and a.OperStatus == IF_OPER_STATUS_UP
        if usable and a.PhysicalAddressLength == 6 and not _virtual(a):
            mac = ":".join(f"{b:02x}" for b in a.PhysicalAddress[:6])
            unicast = a.FirstUnicastAddress
            while unicast:
                u = unicast.contents
                sockaddr = ctypes.cast(u.Address.lpSockaddr, ctypes.POINTER(SOCKADDR_IN)).contents
                if sockaddr.family == AF_INET:
                    address = str(ipaddress.IPv4Address(bytes(sockaddr.addr)))
                    iface = net_interface({"mac": mac, "address": address, "prefix": u.OnLinkPrefixLength})
                    if iface is not None and iface not in found:
                        found.append(iface)
                unicast = u.Next
        adapter = a.Next
    return found[:16]
