"""The pure parts of security keys and passkeys: the second factor's resolution, the relying party
from the configuration, and the checks on what a browser posts (hostile by assumption)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.config import GatewayConfig
from jiseki.gateway.auth import second_factor
from jiseki.gateway.auth.webauthn_keys import (
    MAX_BODY,
    KeyInputError,
    b64url,
    key_name,
    parse_assertion,
    parse_registration,
    read_json,
    relying_party,
    to_b64url,
)
from tests.webauthn_soft import SoftKey

CHALLENGE = to_b64url(bytes(range(32)))


@pytest.mark.parametrize(
    ("department", "organisation", "expected"),
    [
        (None, None, "either"),
        (None, "totp", "totp"),
        ("webauthn", "totp", "webauthn"),
        ("either", "webauthn", "either"),
        ("bogus", None, "either"),  # a value that is not one is not set
    ],
)
def test_the_department_wins_then_the_organisation_then_either(
    department: str | None, organisation: str | None, expected: str
) -> None:
    assert second_factor.resolve(department, organisation) == expected


def test_checked_values() -> None:
    assert second_factor.checked("") is None and second_factor.checked(None) is None
    assert second_factor.checked("webauthn") == "webauthn"
    with pytest.raises(ValueError, match="second_factor"):
        second_factor.checked("sms")


@pytest.mark.parametrize(
    ("options", "rp_id", "origins"),
    [
        ({}, "localhost", ("https://localhost:8443",)),  # the default server names start with localhost
        ({"server_names": ("127.0.0.1", "jiseki.pref.example.lg.jp")}, "jiseki.pref.example.lg.jp", None),
        ({"public_url": "https://remote.pref.example.lg.jp"}, "remote.pref.example.lg.jp", None),
        ({"public_url": "https://127.0.0.1:9443", "port": 9443}, "localhost", ("https://localhost:9443",)),
    ],
)
def test_the_relying_party_is_a_name_never_an_address(
    options: dict[str, Any], rp_id: str, origins: tuple[str, ...] | None
) -> None:
    rp = relying_party(GatewayConfig(**options))  # type: ignore[arg-type]
    assert rp.rp_id == rp_id
    if origins is not None:
        assert rp.origins == origins
    assert all(o.startswith(f"https://{rp_id}") for o in rp.origins)


def test_a_public_url_on_443_has_an_origin_without_port() -> None:
    rp = relying_party(GatewayConfig(public_url="https://remote.pref.example.lg.jp", port=8443))
    assert rp.origins == ("https://remote.pref.example.lg.jp", "https://remote.pref.example.lg.jp:8443")


def test_real_answers_parse() -> None:
    key = SoftKey("https://localhost:8443")
    created = parse_registration(key.create({"challenge": CHALLENGE}))
    assert created.challenge == CHALLENGE and created.transports == ("usb",)
    got = parse_assertion(key.get({"challenge": CHALLENGE}))
    assert got.credential_id == created.credential_id and got.challenge == CHALLENGE


def _broken(mutate: Any) -> dict[str, Any]:
    answer = SoftKey("https://localhost:8443").get({"challenge": CHALLENGE})
    mutate(answer)
    return answer


@pytest.mark.parametrize(
    "mutate",
    [
        lambda a: a.update(type="password"),
        lambda a: a.update(id="other"),  # id and rawId differ
        lambda a: a.update(rawId="A" * 1400, id="A" * 1400),  # longer than 1023 bytes
        lambda a: a.update(rawId="a+b/", id="a+b/"),  # base64, not base64url
        lambda a: a["response"].update(signature="A" * 2000),
        lambda a: a["response"].update(clientDataJSON=to_b64url(b'{"type":"webauthn.create","challenge":"x"}')),
        lambda a: a["response"].update(clientDataJSON=to_b64url(b"[1,2]")),
        lambda a: a["response"].update(clientDataJSON=to_b64url(json.dumps({"type": "webauthn.get"}).encode())),
        lambda a: a["response"].update(userHandle=12),
        lambda a: a.update(response="x"),
    ],
)
def test_hostile_assertions_are_refused_with_a_message(mutate: Any) -> None:
    with pytest.raises(KeyInputError) as refused:
        parse_assertion(_broken(mutate))
    assert refused.value.msgid.startswith("The security key")


def test_registration_transports_must_be_known() -> None:
    answer = SoftKey("https://localhost:8443").create({"challenge": CHALLENGE})
    answer["response"]["transports"] = ["usb", "carrier-pigeon"]
    with pytest.raises(KeyInputError):
        parse_registration(answer)


def test_bodies_too_large_or_not_objects() -> None:
    with pytest.raises(KeyInputError):
        read_json(b" " * (MAX_BODY + 1))
    for body in (b"[]", b"null", b"{", b"[" * 5000 + b"]" * 5000):
        with pytest.raises(KeyInputError):
            read_json(body)


@pytest.mark.parametrize("name", ["", " ", "x" * 65, "a\x00b", "line\nbreak"])
def test_key_names_are_1_to_64_printable_characters(name: str) -> None:
    with pytest.raises(KeyInputError):
        key_name(name)


def test_a_key_name_is_trimmed() -> None:
    assert key_name("  青いキー ") == "青いキー"
    assert key_name("鍵" * 64) == "鍵" * 64


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=50),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=20), c, max_size=5),
        max_leaves=20,
    )
)
def test_any_json_value_is_refused_or_read_never_crashes(value: Any) -> None:
    for parse in (parse_assertion, parse_registration):
        try:
            parse(value)
        except KeyInputError:
            pass
    try:
        read_json(json.dumps(value))
    except KeyInputError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.integers(min_value=0, max_value=64))
def test_b64url_decodes_or_refuses(text: str, limit: int) -> None:
    try:
        data = b64url(text, limit, "field")
    except KeyInputError:
        return
    assert len(data) <= limit and to_b64url(data) == text


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["id", "rawId", "type", "response", "clientDataJSON", "signature", "authenticatorData"]),
        st.text(max_size=40) | st.binary(max_size=40).map(to_b64url),
        max_size=7,
    )
)
def test_mutated_assertions_are_refused_or_read(fields: dict[str, str]) -> None:
    answer = SoftKey("https://localhost:8443").get({"challenge": CHALLENGE})
    for key, value in sorted(fields.items(), key=lambda kv: kv[0] == "response"):  # "response" last
        (answer if key in ("id", "rawId", "type", "response") else answer["response"])[key] = value
    try:
        parse_assertion(answer)
    except KeyInputError:
        pass


def test_cli_sets_the_second_factor_of_a_department_not_of_a_pc_group() -> None:
    from jiseki.cli import build_parser
    from jiseki.cli.policy import settings_from_args
    from jiseki.policy_kinds import PolicyError

    args = build_parser().parse_args(["policy", "set", "--department", "総務課", "--second-factor", "webauthn"])
    assert settings_from_args(args) == {"second_factor": "webauthn"}
    args = build_parser().parse_args(["policy", "set", "--organisation", "--second-factor", "inherit"])
    assert settings_from_args(args) == {"second_factor": None}
    args = build_parser().parse_args(["policy", "set", "--host-group", "窓口", "--second-factor", "totp"])
    with pytest.raises(PolicyError):
        settings_from_args(args)
