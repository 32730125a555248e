"""The directory client against a real slapd: binds over LDAPS and StartTLS, account states, roles
from nested groups, failover, an untrusted certificate, the staff list and the connection test."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from jiseki.gateway.directory.client import (
    DirectoryRefused,
    DirectoryUnavailable,
    Verdict,
    fetch_listing,
    test_connection,
    verify_password,
)
from jiseki.gateway.directory.people import AccountState
from tests.conftest import free_port
from tests.directory_server import AD_STAFF, PASSWORD, DirectoryServer, ad_user, ldap_person, make_ca


async def test_ad_like_login_over_ldaps(directory: DirectoryServer) -> None:
    config = directory.ad_config()
    verdict = await verify_password(config, "yamada", PASSWORD)
    assert verdict.verdict is Verdict.OK, verdict
    person = verdict.person
    assert person is not None
    assert (person.login_id, person.name, person.reading, person.department, person.role) == (
        "yamada",
        "山田 太郎",
        "やまだ たろう",
        "総務課",
        "staff",
    )
    assert (await verify_password(config, "yamada", "wrong")).verdict is Verdict.WRONG
    assert (await verify_password(config, "yamada", "")).verdict is Verdict.WRONG  # never an unauthenticated bind
    assert (await verify_password(config, "nobody", PASSWORD)).verdict is Verdict.WRONG
    assert (await verify_password(config, "yama*", PASSWORD)).verdict is Verdict.WRONG  # escaped, not a wildcard


async def test_ad_like_states_and_nested_roles(directory: DirectoryServer) -> None:
    config = directory.ad_config()
    for login_id, state in (
        ("takahashi", AccountState.DISABLED),
        ("tanaka", AccountState.EXPIRED),
        ("ito", AccountState.LOCKED),
    ):
        verdict = await verify_password(config, login_id, PASSWORD)
        assert (verdict.verdict, verdict.state, verdict.reason) == (Verdict.REFUSED, state, f"directory_{state.value}")
    sato = await verify_password(config, "sato", PASSWORD)
    suzuki = await verify_password(config, "suzuki", PASSWORD)  # helpdesk through a nested group
    assert sato.person and sato.person.role == "admin"
    assert suzuki.person and suzuki.person.role == "helpdesk" and suzuki.person.reading == "すずき いちろう"
    limited = replace(config, group_dns=(f"CN=jiseki-users,OU=Groups,{AD_STAFF.split(',', 1)[1]}",))
    assert (await verify_password(limited, "suzuki", PASSWORD)).verdict is Verdict.OK  # nested in tax-staff
    refused = await verify_password(limited, "watanabe", PASSWORD)
    assert (refused.verdict, refused.reason) == (Verdict.REFUSED, "directory_not_in_groups")


async def test_plain_ldap_over_starttls(directory: DirectoryServer) -> None:
    config = directory.ldap_config()
    hayashi = await verify_password(config, "hayashi", PASSWORD)
    assert hayashi.verdict is Verdict.OK, hayashi
    assert hayashi.person and (hayashi.person.role, hayashi.person.department) == ("admin", "情報政策課")
    assert (await verify_password(config, "kimura", "nope")).verdict is Verdict.WRONG
    listing = await fetch_listing(config)
    assert sorted((p.login_id, p.role, p.department) for p in listing.people) == [
        ("hayashi", "admin", "情報政策課"),
        ("kimura", "staff", "総務課"),
        ("mori", "staff", "情報政策課"),
    ]


async def test_failover_and_all_down(directory_pair: tuple[DirectoryServer, DirectoryServer]) -> None:
    first, second = directory_pair
    config = first.ad_config(first.url_ldaps, second.url_ldaps)
    first.stop()
    verdict = await verify_password(config, "yamada", PASSWORD)
    assert (verdict.verdict, verdict.server) == (Verdict.OK, second.url_ldaps)
    second.stop()
    down = await verify_password(config, "yamada", PASSWORD)
    assert down.verdict is Verdict.UNAVAILABLE
    with pytest.raises(DirectoryUnavailable):
        await fetch_listing(config)
    first.start()
    assert (await verify_password(config, "yamada", PASSWORD)).verdict is Verdict.OK


async def test_untrusted_certificate_is_refused(directory: DirectoryServer, tmp_path: Path) -> None:
    other = make_ca(tmp_path / "other")
    for config in (directory.ad_config(), directory.ldap_config()):
        untrusted = replace(config, ca_file=str(other.root_cert_path))
        assert (await verify_password(untrusted, "yamada", PASSWORD)).verdict is Verdict.UNAVAILABLE
        (check,) = await test_connection(untrusted)
        assert (check.reachable, check.tls_ok, check.error) == (True, False, "tls")
    assert (await verify_password(directory.ad_config(), "yamada", PASSWORD)).verdict is Verdict.OK
    directory.ca.ensure_server_cert(("dc1.example.invalid",))  # trusted CA, another server's name
    directory.stop()
    directory.start()
    assert (await verify_password(directory.ad_config(), "yamada", PASSWORD)).verdict is Verdict.UNAVAILABLE
    assert (await verify_password(directory.ldap_config(), "kimura", PASSWORD)).verdict is Verdict.UNAVAILABLE


async def test_listing_and_limits(directory: DirectoryServer) -> None:
    config = directory.ad_config()
    listing = await fetch_listing(config)
    people = {p.login_id: p for p in listing.people}
    assert set(people) == {"yamada", "sato", "suzuki", "takahashi", "tanaka", "ito", "watanabe"}
    assert people["takahashi"].state is AccountState.DISABLED and people["sato"].role == "admin"
    with pytest.raises(DirectoryRefused):
        await fetch_listing(replace(config, max_entries=3))
    wrong_service = replace(config, service_password="nope")
    with pytest.raises(DirectoryUnavailable):
        await fetch_listing(wrong_service)


async def test_connection_checks(directory: DirectoryServer) -> None:
    dead = f"ldaps://127.0.0.1:{free_port()}"
    checks = await test_connection(directory.ad_config(directory.url_ldaps, dead))
    assert [(c.reachable, c.tls_ok, c.bind_ok, c.error) for c in checks] == [
        (True, True, True, ""),
        (False, False, None, "unreachable"),
    ]
    (bad_bind,) = await test_connection(replace(directory.ldap_config(), service_password="nope"))
    assert (bad_bind.tls_ok, bad_bind.bind_ok, bad_bind.error) == (True, False, "service_bind")


async def test_more_entries_than_one_page(directory: DirectoryServer) -> None:
    """slapd answers at most 500 entries to one search (sizelimit): the listing must page."""
    directory.add_many([ad_user(f"k{i:04d}", f"職員 {i}番", "しょくいん", "税務課", []) for i in range(620)])
    listing = await fetch_listing(directory.ad_config())
    assert len(listing.people) == 627 and not listing.skipped
    assert len({p.login_id for p in listing.people}) == 627
    with pytest.raises(DirectoryRefused):
        await fetch_listing(directory.ad_config(max_entries=626))
    directory.add_many([ldap_person(f"m{i:04d}", f"町職員 {i}番", "総務課") for i in range(600)])
    ldap = await fetch_listing(directory.ldap_config())
    assert len(ldap.people) == 603 and [p.role for p in ldap.people].count("admin") == 1
