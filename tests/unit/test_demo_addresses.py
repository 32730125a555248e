"""`jiseki demo --listen/--name`: the address the gateway binds, how the agent reaches it, and the
names its server certificate carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiseki.cli import main
from jiseki.demo import addresses
from jiseki.demo.run import DemoStack, _exposure_warning


def test_default_is_this_machine_only() -> None:
    stack = DemoStack(Path("/nonexistent/demo"), 8443)
    assert stack.gateway.host == "127.0.0.1"
    assert stack.gateway.server_names == ("localhost", "127.0.0.1")
    assert stack.agent.gateway_url == stack.gateway.public_url == stack.base_url == "https://127.0.0.1:8443"
    assert stack.remote_urls == []


def test_a_given_address_is_in_the_certificate_and_used_by_the_agent() -> None:
    stack = DemoStack(Path("/nonexistent/demo"), 9443, listen="192.0.2.10", names=("desk.example.lg.jp",))
    assert stack.gateway.host == "192.0.2.10"
    assert stack.gateway.server_names == ("localhost", "127.0.0.1", "192.0.2.10", "desk.example.lg.jp")
    assert stack.agent.gateway_url == stack.gateway.public_url == "https://192.0.2.10:9443"
    assert stack.remote_urls == ["https://192.0.2.10:9443", "https://desk.example.lg.jp:9443"]


def test_listening_everywhere_adds_this_machines_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(addresses, "machine_names", lambda: ["officepc", "192.0.2.7", "2001:db8::7"])
    stack = DemoStack(Path("/nonexistent/demo"), 8443, listen="0.0.0.0")
    assert stack.gateway.host == "0.0.0.0"
    assert stack.agent.gateway_url == "https://127.0.0.1:8443"  # the agent stays on loopback
    assert {"officepc", "192.0.2.7", "2001:db8::7"} <= set(stack.gateway.server_names)
    assert "0.0.0.0" not in stack.gateway.server_names
    assert "https://[2001:db8::7]:8443" in stack.remote_urls
    v6 = DemoStack(Path("/nonexistent/demo"), 8443, listen="::")
    assert v6.agent.gateway_url == "https://[::1]:8443"


def test_machine_names_are_valid_certificate_names_without_loopback_addresses() -> None:
    import ipaddress

    names = addresses.machine_names()
    assert names, "at least the host name"
    for name in names:
        assert addresses.check_name(name) == name
        try:
            assert not ipaddress.ip_address(name).is_loopback, name
        except ValueError:
            pass  # a host name


def test_loopback() -> None:
    assert addresses.is_loopback("127.0.0.1") and addresses.is_loopback("127.0.0.2")
    assert addresses.is_loopback("::1") and addresses.is_loopback("localhost")
    assert not addresses.is_loopback("0.0.0.0") and not addresses.is_loopback("::")
    assert not addresses.is_loopback("192.0.2.10")


def test_the_warning_names_the_risk_and_the_ssh_alternative() -> None:
    text = _exposure_warning("0.0.0.0", Path("/srv/demo-data"), 8443)
    assert "WARNING" in text and "other machines" in text and "/srv/demo-data" in text
    assert "ssh -L 8443:127.0.0.1:8443" in text


@pytest.mark.parametrize(
    ("option", "value"), [("--listen", "not an address"), ("--listen", "a_b.example"), ("--name", "x y")]
)
def test_bad_values_are_refused_clearly(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", option, value]) == 1
    err = capsys.readouterr().err
    assert f"{option}: {value!r} is neither an IP address nor a host name" in err
