"""Which agents the console calls older than the gateway."""

from __future__ import annotations

import pytest

from jiseki.gateway.agent_versions import agent_age


@pytest.mark.parametrize(
    ("agent", "gateway", "age"),
    [
        ("0.13.0", "0.14.0", "older"),
        ("0.9.9", "0.14.0", "older"),  # numbers, not text: "0.9" < "0.14"
        ("0.14", "0.14.0", "same"),
        ("0.14.0rc1", "0.14.0", "same"),  # only the release numbers count
        ("0.15.0", "0.14.0", "newer"),
        ("1.0", "0.14.2", "newer"),
        ("", "0.14.0", None),
        (None, "0.14.0", None),
        ("dev build", "0.14.0", None),  # nothing usable: no claim either way
    ],
)
def test_agent_age(agent: str | None, gateway: str, age: str | None) -> None:
    assert agent_age(agent, gateway) == age
