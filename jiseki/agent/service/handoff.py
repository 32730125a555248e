"""What the installer hands to the service: the gateway's address and a one-time enrollment token.

`msiexec /i jiseki-agent.msi /qn GATEWAY_URL=https://... ENROLL_TOKEN=...` writes them to
`HKLM\\SOFTWARE\\jiseki\\Agent` (`GatewayUrl`, `EnrollToken`). At start the service enrolls when a
token is there (the first install, or a re-install with a new token), deletes the token whatever the
gateway answered, except when it could not be reached (then it tries again later), and runs once
the PC has its certificate. `next_step` is the decision, pure; `RegistryHandoff` reads and clears
the values (winreg, Windows only); tests use a dictionary.
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from jiseki.config import proxy_url_problem

REGISTRY_KEY = r"SOFTWARE\jiseki\Agent"
GATEWAY_VALUE = "GatewayUrl"
PROXY_VALUE = "ProxyUrl"  # optional: http://proxy:8080 (a GPO registry preference can set it)
TOKEN_VALUE = "EnrollToken"  # noqa: S105 (the registry value's name, not a secret)
MAX_VALUE = 4096  # a URL or a token is far shorter: anything longer is not ours


@dataclass(frozen=True)
class Handed:
    gateway_url: str = ""
    token: str = ""
    proxy_url: str = ""


class Step(enum.Enum):
    ENROLL = "enroll"  # a token is waiting: enroll (again) with it
    RUN = "run"  # enrolled, nothing to do: connect
    WAIT = "wait"  # not enrolled and no token (or no gateway): nothing to do until an admin acts


def valid_gateway_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme == "https" and bool(parts.hostname) and parts.path in ("", "/") and not parts.query
    except ValueError:
        return False


def next_step(handed: Handed, enrolled: bool) -> Step:
    if handed.token and valid_gateway_url(handed.gateway_url):
        return Step.ENROLL
    return Step.RUN if enrolled else Step.WAIT


def why_waiting(handed: Handed) -> str:
    """The administrator's next step, said in the Event Log."""
    if handed.token and not valid_gateway_url(handed.gateway_url):
        return f"GATEWAY_URL is not an https:// address of the gateway: {handed.gateway_url[:200]!r}"
    return (
        "this PC is not enrolled: install the MSI with GATEWAY_URL=https://... ENROLL_TOKEN=... "
        "(a token from the console's bulk enrollment), or run `jiseki agent enroll`"
    )


class Handoff(Protocol):
    def read(self) -> Handed: ...
    def clear_token(self) -> None: ...


def _winreg() -> Any:
    import importlib

    return importlib.import_module("winreg")  # Windows only (typeshed declares it there only)


class RegistryHandoff:
    """HKLM\\SOFTWARE\\jiseki\\Agent, written by the MSI (readable by Administrators and SYSTEM)."""

    def __init__(self, key: str = REGISTRY_KEY) -> None:
        if sys.platform != "win32":
            raise OSError("the registry exists on Windows only")
        self.key: str = key

    def _value(self, name: str) -> str:
        winreg = _winreg()

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, self.key) as key:
                value, kind = winreg.QueryValueEx(key, name)
        except OSError:
            return ""
        if kind not in (winreg.REG_SZ, winreg.REG_EXPAND_SZ) or not isinstance(value, str):
            return ""
        return value.strip()[:MAX_VALUE]

    def read(self) -> Handed:
        proxy = self._value(PROXY_VALUE).rstrip("/")
        if proxy and proxy_url_problem(proxy):
            proxy = ""  # main.py's agent_config says why (it reads the raw value)
        return Handed(self._value(GATEWAY_VALUE).rstrip("/"), self._value(TOKEN_VALUE), proxy)

    def clear_token(self) -> None:
        winreg = _winreg()

        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, self.key, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, TOKEN_VALUE)
        except FileNotFoundError:
            pass

    def remove(self) -> None:
        """The uninstall's cleanup: the whole key."""
        winreg = _winreg()

        for sub in (self.key, r"SOFTWARE\jiseki"):
            try:
                winreg.DeleteKey(winreg.HKEY_LOCAL_MACHINE, sub)
            except OSError:
                pass


SAS_POLICY_KEY = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
SAS_POLICY_VALUE = "SoftwareSASGeneration"  # 0 none, 1 services, 2 Ease of Access apps, 3 both


def allow_service_sas() -> str:
    """Let services generate Ctrl+Alt+Del (SendSAS) unless a policy already decided: "set" when this
    call allowed it, "allowed" when it was, "refused" when a policy (GPO) forbids it."""
    winreg = _winreg()
    access = winreg.KEY_QUERY_VALUE | winreg.KEY_SET_VALUE
    with winreg.CreateKeyEx(winreg.HKEY_LOCAL_MACHINE, SAS_POLICY_KEY, 0, access) as key:
        try:
            value, _kind = winreg.QueryValueEx(key, SAS_POLICY_VALUE)
        except FileNotFoundError:
            winreg.SetValueEx(key, SAS_POLICY_VALUE, 0, winreg.REG_DWORD, 1)
            return "set"
    return "allowed" if isinstance(value, int) and value & 1 else "refused"
