"""Where the demo listens, how its own agent reaches it, and the names its server certificate carries."""

from __future__ import annotations

import ipaddress
import socket

from jiseki.config import ConfigError, check_host

LOOPBACK = "127.0.0.1"
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 -- listening everywhere is what --listen asks


def check_listen(value: str) -> str:
    """The --listen value, or ValueError with a message for the command line."""
    try:
        return check_host("--listen", value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def check_name(value: str) -> str:
    """A --name value, or ValueError with a message for the command line."""
    try:
        return check_host("--name", value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def is_loopback(host: str) -> bool:
    """True when only this machine can reach `host` (every address it resolves to is loopback)."""
    if host in WILDCARDS:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


def connect_host(listen: str) -> str:
    """The address this machine's agent and browser use: loopback when listening everywhere."""
    return WILDCARDS.get(listen, listen)


def url(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def machine_names() -> list[str]:
    """This machine's host names and non-loopback addresses: what other machines may use to reach it."""
    import psutil

    candidates = [socket.gethostname(), socket.getfqdn()]
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(a.address.split("%")[0])
                if not (ip.is_loopback or ip.is_link_local):
                    candidates.append(str(ip))
    names = []
    for name in candidates:
        try:
            names.append(check_host("name", name))
        except ConfigError:
            continue  # e.g. a host name with characters a certificate cannot hold
    return names


def server_names(listen: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """localhost and 127.0.0.1 always; the listening address; names given with --name; and, when
    listening everywhere, this machine's names and addresses."""
    names = ["localhost", LOOPBACK, connect_host(listen)]
    if listen not in WILDCARDS:
        names.append(listen)
    names += extra
    if listen in WILDCARDS:
        names += machine_names()
    return tuple(dict.fromkeys(names))
