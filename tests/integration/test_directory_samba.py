"""Active Directory as Samba serves it (a real DC, tests/samba_dc.py): what jiseki's directory client
relies on, checked with ldap3 directly: UPN and DOMAIN\\login binds, the reason AD gives for a refused
bind, account states from userAccountControl / accountExpires / lockoutTime, nested groups through
LDAP_MATCHING_RULE_IN_CHAIN, Japanese values, TLS and passwords set over LDAPS.

Skipped only when Samba is not installed (CI installs it: see the skip reason for the packages)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from ldap3 import BASE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPSocketOpenError

from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.auth.kana import normalise_reading
from jiseki.gateway.directory.client import (
    DirectoryUnavailable,
    Verdict,
    fetch_listing,
    fetch_people,
    test_connection,
    verify_password,
)
from jiseki.gateway.directory.people import AccountState
from tests.conftest import free_port
from tests.integration.conftest import Browser, RunningGateway
from tests.integration.console_support import events
from tests.integration.test_login_directory import add_directory_user
from tests.samba_dc import (
    BASE_DN,
    GROUPS_DN,
    NESTED_GROUP,
    NETBIOS_DOMAIN,
    PASSWORD,
    PEOPLE,
    ROLE_GROUPS,
    SERVICE_DN,
    SERVICE_PASSWORD,
    STAFF_DN,
    STAFF_GROUP,
    SambaDC,
    ad_config,
    add_user,
    filetime,
    group_dn,
    person,
    unavailable,
    unicode_pwd,
)

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")

IN_CHAIN = "1.2.840.113556.1.4.1941"  # LDAP_MATCHING_RULE_IN_CHAIN: membership through nested groups
UF_ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10  # in msDS-User-Account-Control-Computed (never set in userAccountControl by AD)
NEVER = 0x7FFFFFFFFFFFFFFF


@pytest.fixture(scope="module")
def dc() -> Iterator[SambaDC]:
    server = SambaDC()
    try:
        server.start()
        server.populate()
        yield server
    finally:
        server.stop()


def _refusal(dc: SambaDC, user: str, password: str) -> str:
    """The `data` code of AD's refusal ("52e", "533"...), or "" when the bind succeeded."""
    with dc.connect(user, password) as c:
        if c.bound:
            return ""
        assert c.result["description"] == "invalidCredentials", c.result
        message = c.result["message"]
    return message.split("data ", 1)[1].split(",", 1)[0]


def _search(c: Connection, base: str, query: str, attributes: list[str], scope: str = SUBTREE) -> dict[str, dict]:
    c.search(base, query, scope, attributes=attributes)  # False when nothing is found
    assert c.result["result"] == 0, c.result
    return {e["dn"]: e["attributes"] for e in c.response if e["type"] == "searchResEntry"}


def _one(attrs: dict, name: str) -> str | None:
    """The single value of `name` (ldap3 without the schema gives every attribute as a list)."""
    values = attrs.get(name) or []
    assert len(values) <= 1, (name, values)
    return values[0] if values else None


def _int(attrs: dict, name: str) -> int:
    value = _one(attrs, name)
    return int(value) if value is not None else 0


def test_bind_by_upn_by_netbios_name_and_by_dn_is_the_same_account(dc: SambaDC) -> None:
    p = person("yamada.taro")
    for user in (p.upn, f"{NETBIOS_DOMAIN}\\{p.login_id}", p.dn, p.upn.upper(), f"pref\\{p.login_id.upper()}"):
        assert _refusal(dc, user, PASSWORD) == "", user
    assert _refusal(dc, f"{NETBIOS_DOMAIN}\\{p.login_id}", "wrong-" + PASSWORD) == "52e"
    assert _refusal(dc, p.dn, "wrong-" + PASSWORD) == "52e"


def test_wrong_password_and_unknown_account_give_the_same_answer(dc: SambaDC) -> None:
    assert _refusal(dc, person("sato.hanako").upn, "wrong-" + PASSWORD) == "52e"
    assert _refusal(dc, "nobody@pref.example.lg.jp", PASSWORD) == "52e"
    assert _refusal(dc, f"{NETBIOS_DOMAIN}\\nobody", PASSWORD) == "52e"
    assert _refusal(dc, person("sato.hanako").upn, PASSWORD) == ""  # one wrong password does not lock


@pytest.mark.parametrize(
    ("login_id", "code"),
    [("tanaka.sho", "533"), ("ito.hina", "701"), ("watanabe.daisuke", "775"), ("kato.yui", "773")],
)
def test_a_refused_bind_names_the_reason_with_the_right_password(dc: SambaDC, login_id: str, code: str) -> None:
    """533 disabled, 701 expired, 775 locked out, 773 must change password: in the diagnostic message."""
    p = person(login_id)
    assert _refusal(dc, p.upn, PASSWORD) == code
    assert _refusal(dc, f"{NETBIOS_DOMAIN}\\{login_id}", PASSWORD) == code


def test_a_wrong_password_reveals_no_state_except_a_lockout(dc: SambaDC) -> None:
    """Samba, like Windows, tells disabled or expired only to whoever knows the password; a locked-out
    account says 775 to anyone."""
    assert _refusal(dc, person("tanaka.sho").upn, "wrong-" + PASSWORD) == "52e"
    assert _refusal(dc, person("ito.hina").upn, "wrong-" + PASSWORD) == "52e"
    assert _refusal(dc, person("watanabe.daisuke").upn, "wrong-" + PASSWORD) == "775"


def test_the_service_account_reads_every_state(dc: SambaDC) -> None:
    config = ad_config(dc)
    now = filetime(dt.datetime.now(dt.UTC))
    with dc.connect(SERVICE_DN, SERVICE_PASSWORD) as c:
        assert c.bound, c.result
        # Paged, as the synchronisation reads (3 a page): the constructed attribute comes on every page.
        rows = c.extend.standard.paged_search(
            STAFF_DN,
            config.effective_user_filter,
            attributes=[
                "sAMAccountName",
                "userAccountControl",
                "accountExpires",
                "lockoutTime",
                "pwdLastSet",
                "msDS-User-Account-Control-Computed",
            ],
            paged_size=3,
            generator=False,
        )
        found = {r["dn"]: r["attributes"] for r in rows if r["type"] == "searchResEntry"}
    by_login = {_one(attrs, "sAMAccountName"): attrs for attrs in found.values()}
    assert set(by_login) == {p.login_id for p in PEOPLE}  # not the service account, not Administrator
    for p in PEOPLE:
        attrs = by_login[p.login_id]
        expires = _int(attrs, "accountExpires")
        if _int(attrs, "userAccountControl") & UF_ACCOUNTDISABLE:
            state = AccountState.DISABLED
        elif 0 < expires < NEVER and expires <= now:
            state = AccountState.EXPIRED
        elif _int(attrs, "msDS-User-Account-Control-Computed") & UF_LOCKOUT:
            state = AccountState.LOCKED
        else:
            state = AccountState.ACTIVE
        assert state is p.state, p.login_id
        assert (_int(attrs, "lockoutTime") != 0) == (p.state is AccountState.LOCKED), p.login_id
        assert (_int(attrs, "pwdLastSet") == 0) == p.must_change_password, p.login_id
        # An account never locked has no lockoutTime at all; "never expires" is 2^63-1 (0 on some accounts).
        assert expires in (0, NEVER) or p.state is AccountState.EXPIRED


@contextlib.contextmanager
def _briefly_lockable(dc: SambaDC) -> Iterator[str]:
    """A throwaway account (its login ID) that 2 wrong passwords lock out for 2 seconds: a password
    settings object applies to it alone (the domain keeps its own policy). Removed afterwards."""
    login = "lock-" + secrets.token_hex(3)
    dn = f"CN={login},OU=総務課,{STAFF_DN}"
    pso = f"CN=pso-{login},CN=Password Settings Container,CN=System,{BASE_DN}"
    two_seconds = str(-2 * 10_000_000)
    pso_attrs = {
        "msDS-PasswordSettingsPrecedence": "1",
        "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
        "msDS-PasswordHistoryLength": "0",
        "msDS-PasswordComplexityEnabled": "TRUE",
        "msDS-MinimumPasswordLength": "8",
        "msDS-MinimumPasswordAge": "0",
        "msDS-MaximumPasswordAge": str(-365 * 86400 * 10_000_000),
        "msDS-LockoutThreshold": "2",
        "msDS-LockoutObservationWindow": two_seconds,
        "msDS-LockoutDuration": two_seconds,
        "msDS-PSOAppliesTo": dn,
    }
    with dc.admin() as c:
        add_user(c, dn, login, PASSWORD, {"userPrincipalName": f"{login}@pref.example.lg.jp", "displayName": login})
        assert c.add(pso, ["top", "msDS-PasswordSettings"], pso_attrs), c.result
    try:
        yield login
    finally:
        with dc.admin() as c:
            c.delete(pso)
            c.delete(dn)


def _lockout(dc: SambaDC, login: str) -> tuple[int, int]:
    """(lockoutTime, the UF_LOCKOUT bit of msDS-User-Account-Control-Computed) of an account."""
    dn = f"CN={login},OU=総務課,{STAFF_DN}"
    with dc.admin() as c:
        attrs = _search(c, dn, "(objectClass=*)", ["lockoutTime", "msDS-User-Account-Control-Computed"], BASE)[dn]
    return _int(attrs, "lockoutTime"), _int(attrs, "msDS-User-Account-Control-Computed") & UF_LOCKOUT


def _lock_then_wait_for_the_end(dc: SambaDC, login: str) -> int:
    """Lock the account out, wait until the lockout is over; its lockoutTime (still set)."""
    upn = f"{login}@pref.example.lg.jp"
    assert [_refusal(dc, upn, "wrong-" + PASSWORD) for _ in range(3)] == ["52e", "52e", "775"]
    locked_at, computed = _lockout(dc, login)
    assert locked_at > 0 and computed
    deadline = time.monotonic() + 15
    while _lockout(dc, login)[1] and time.monotonic() < deadline:
        time.sleep(0.5)
    return locked_at


def test_lockout_time_stays_after_the_lockout_ends(dc: SambaDC) -> None:
    """AD keeps lockoutTime until the next successful logon, after the lockout duration has passed;
    only msDS-User-Account-Control-Computed says whether the account is locked now."""
    with _briefly_lockable(dc) as login:
        locked_at = _lock_then_wait_for_the_end(dc, login)
        assert _lockout(dc, login) == (locked_at, 0)  # lockout over: lockoutTime unchanged, the flag clear
        assert _refusal(dc, f"{login}@pref.example.lg.jp", PASSWORD) == ""
        assert _lockout(dc, login) == (0, 0)  # the successful logon resets it


def test_nested_groups_through_the_in_chain_rule(dc: SambaDC) -> None:
    suzuki = person("suzuki.kenta")
    helpdesk = group_dn(ROLE_GROUPS["helpdesk"])
    with dc.connect(SERVICE_DN, SERVICE_PASSWORD) as c:
        # memberOf lists the direct groups only: the helpdesk role comes through helpdesk-team.
        direct = _search(c, suzuki.dn, "(objectClass=*)", ["memberOf"], BASE)[suzuki.dn]["memberOf"]
        assert {g.lower() for g in direct} == {group_dn(NESTED_GROUP).lower(), group_dn(STAFF_GROUP).lower()}
        plain = _search(c, STAFF_DN, f"(memberOf={helpdesk})", ["sAMAccountName"])
        assert plain == {}
        # Everyone in a role group, nested members included: one search per role group.
        for role, name in ROLE_GROUPS.items():
            found = _search(c, STAFF_DN, f"(memberOf:{IN_CHAIN}:={group_dn(name)})", ["sAMAccountName"])
            assert {_one(a, "sAMAccountName") for a in found.values()} == {p.login_id for p in PEOPLE if p.role == role}
        # Or every group of one person, nested ones included: one search per person.
        groups = _search(c, GROUPS_DN, f"(member:{IN_CHAIN}:={suzuki.dn})", ["cn"])
        assert {dn.lower() for dn in groups} == {
            group_dn(n).lower() for n in (NESTED_GROUP, ROLE_GROUPS["helpdesk"], STAFF_GROUP)
        }


def test_japanese_names_readings_and_departments(dc: SambaDC) -> None:
    config = ad_config(dc)
    attributes = ["displayName", config.reading_attribute, "department", "givenName", "sn", "sAMAccountName"]
    with dc.connect(SERVICE_DN, SERVICE_PASSWORD) as c:
        found = _search(c, STAFF_DN, config.effective_user_filter, attributes)
        raw = {e["dn"]: e["raw_attributes"] for e in c.response if e["type"] == "searchResEntry"}
    for p in PEOPLE:
        attrs = found[p.dn]
        assert (_one(attrs, "displayName"), _one(attrs, "msDS-PhoneticDisplayName")) == (p.name, p.reading)
        assert (_one(attrs, "department"), _one(attrs, "sn"), _one(attrs, "givenName")) == (
            p.department,
            p.surname,
            p.given,
        )
        assert raw[p.dn]["displayName"] == [p.name.encode()]  # UTF-8 on the wire
        assert f"OU={p.department},OU=職員," in p.dn  # the department as the first OU of the DN


def test_tls_is_required_and_verified(dc: SambaDC) -> None:
    p = person("yamada.taro")
    with dc.connect(p.upn, PASSWORD, ldaps=False) as c:  # a simple bind in the clear is refused
        assert not c.bound
        assert c.result["description"] == "strongerAuthRequired"
    with dc.connect(p.upn, PASSWORD, ldaps=False, start_tls=True) as c:
        assert c.bound, c.result
    # The DC's certificate is checked against the CA given, with the address as the name.
    other = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(LDAPSocketOpenError):
        Connection(Server(dc.address, port=636, use_ssl=True, tls=other, connect_timeout=5)).open()


def test_passwords_set_over_ldaps(dc: SambaDC) -> None:
    login = "pw-" + secrets.token_hex(3)
    dn = f"CN={login},OU=財政課,{STAFF_DN}"
    with dc.admin() as c:
        add_user(c, dn, login, PASSWORD, {"userPrincipalName": f"{login}@pref.example.lg.jp"})
        try:
            assert c.modify(dn, {"unicodePwd": [("MODIFY_REPLACE", [unicode_pwd("Atarashii-Pass-77")])]}), c.result
            assert _refusal(dc, f"{login}@pref.example.lg.jp", "Atarashii-Pass-77") == ""
            # Like Windows for NTLM, Samba still accepts the previous password for an hour ("old password
            # allowed period" = 60 minutes) after a change, in simple binds too.
            assert _refusal(dc, f"{login}@pref.example.lg.jp", PASSWORD) == ""
            # The domain's password policy applies (7 characters, complexity): refused with a reason.
            assert not c.modify(dn, {"unicodePwd": [("MODIFY_REPLACE", [unicode_pwd("abc")])]})
            assert c.result["description"] == "constraintViolation"
            assert "0000052D" in c.result["message"]
        finally:
            c.delete(dn)


# -- jiseki's directory client (jiseki/gateway/directory/client.py) against the DC, kind = "ad" --


@pytest.mark.parametrize("bind", ["upn", "sam", "search"])
async def test_client_login_in_each_bind_mode(dc: SambaDC, bind: str) -> None:
    config = ad_config(dc, bind=bind)
    for p in (person("yamada.taro"), person("suzuki.kenta"), person("takahashi.misaki"), person("sato.hanako")):
        verdict = await verify_password(config, p.login_id, PASSWORD)
        assert verdict.verdict is Verdict.OK, verdict
        assert verdict.person is not None and verdict.server == dc.ldaps_url
        got = verdict.person
        assert (got.login_id, got.name, got.reading, got.department, got.role, got.dn.lower()) == (
            p.login_id,
            p.name,
            normalise_reading(p.reading),
            p.department,
            p.role,  # suzuki.kenta: helpdesk through the nested helpdesk-team
            p.dn.lower(),
        )
    assert (await verify_password(config, "Yamada.Taro", PASSWORD)).verdict is Verdict.OK  # AD ignores case
    wrong = await verify_password(config, "yamada.taro", "wrong-" + PASSWORD)
    assert (wrong.verdict, wrong.reason) == (Verdict.WRONG, "directory_wrong_password")
    assert (await verify_password(config, "nobody", PASSWORD)).verdict is Verdict.WRONG
    assert (await verify_password(config, "yamada.*", PASSWORD)).verdict is Verdict.WRONG
    assert (await verify_password(config, "yamada.taro", PASSWORD)).verdict is Verdict.OK  # resets badPwdCount


@pytest.mark.parametrize(
    ("login_id", "state"),
    [
        ("tanaka.sho", AccountState.DISABLED),
        ("ito.hina", AccountState.EXPIRED),
        ("watanabe.daisuke", AccountState.LOCKED),
        ("kato.yui", AccountState.EXPIRED),  # must change the password first (data 773)
    ],
)
async def test_client_refusals_from_the_dc(dc: SambaDC, login_id: str, state: AccountState) -> None:
    for bind in ("upn", "sam", "search"):
        verdict = await verify_password(ad_config(dc, bind=bind), login_id, PASSWORD)
        assert (verdict.verdict, verdict.state, verdict.reason) == (
            Verdict.REFUSED,
            state,
            f"directory_{state.value}",
        ), bind


async def test_client_group_dns_with_nesting(dc: SambaDC) -> None:
    config = ad_config(dc, group_dns=(group_dn(STAFF_GROUP),))
    assert (await verify_password(config, "suzuki.kenta", PASSWORD)).verdict is Verdict.OK
    outside = await verify_password(config, "kobayashi.sho", PASSWORD)
    assert (outside.verdict, outside.reason) == (Verdict.REFUSED, "directory_not_in_groups")
    # Allowed through a group nested in the allowed one: only helpdesk-team's members.
    nested = ad_config(dc, group_dns=(group_dn(ROLE_GROUPS["helpdesk"]),))
    assert (await verify_password(nested, "suzuki.kenta", PASSWORD)).verdict is Verdict.OK
    assert (await verify_password(nested, "sato.hanako", PASSWORD)).reason == "directory_not_in_groups"


async def test_client_staff_list(dc: SambaDC) -> None:
    listing = await fetch_listing(ad_config(dc))
    assert listing.skipped == [] and listing.server == dc.ldaps_url
    got = {p.login_id: (p.name, p.reading, p.department, p.role, p.state) for p in listing.people}
    assert got == {p.login_id: (p.name, normalise_reading(p.reading), p.department, p.role, p.state) for p in PEOPLE}
    in_group = await fetch_people(ad_config(dc, group_dns=(group_dn(STAFF_GROUP),)))
    assert {p.login_id for p in in_group} == {p.login_id for p in PEOPLE if STAFF_GROUP in p.groups}
    by_ou = await fetch_people(ad_config(dc, department_attribute="ou"))
    assert {p.login_id: p.department for p in by_ou} == {p.login_id: p.department for p in PEOPLE}


async def test_client_staff_list_after_a_lockout_ended(dc: SambaDC) -> None:
    with _briefly_lockable(dc) as login:
        _lock_then_wait_for_the_end(dc, login)
        people = {p.login_id: p for p in await fetch_people(ad_config(dc))}
        assert people[login].state is AccountState.ACTIVE  # AD would let them log in now


async def test_client_start_tls_failover_and_connection_test(dc: SambaDC) -> None:
    start_tls = ad_config(dc, servers=(dc.ldap_url,), start_tls=True)
    assert (await verify_password(start_tls, "yamada.taro", PASSWORD)).verdict is Verdict.OK
    down = f"ldaps://127.0.0.1:{free_port()}"
    failover = ad_config(dc, servers=(down, dc.ldaps_url))
    verdict = await verify_password(failover, "yamada.taro", PASSWORD)
    assert (verdict.verdict, verdict.server) == (Verdict.OK, dc.ldaps_url)
    checks = await test_connection(failover)
    assert [(c.url, c.reachable, c.tls_ok, c.bind_ok) for c in checks] == [
        (down, False, False, None),
        (dc.ldaps_url, True, True, True),
    ]
    untrusted = ad_config(dc, ca_file="/etc/ssl/certs/ca-certificates.crt")
    assert (await verify_password(untrusted, "yamada.taro", PASSWORD)).verdict is Verdict.UNAVAILABLE
    with pytest.raises(DirectoryUnavailable):
        await fetch_listing(ad_config(dc, service_password="wrong-" + SERVICE_PASSWORD))


# -- staff sign in through the real gateway with their AD password (jiseki/gateway/auth/accounts.py) --


@pytest.fixture
def directory_config(dc: SambaDC) -> DirectoryConfig:
    """The gateway of the tests below binds to the DC by UPN; only jiseki-users may sign in."""
    return ad_config(dc, group_dns=(group_dn(STAFF_GROUP),))


async def test_gateway_login_with_the_ad_password(gateway: RunningGateway) -> None:
    logins = ("yamada.taro", "suzuki.kenta", "tanaka.sho", "kato.yui", "kobayashi.sho")
    staff = {login_id: replace(await add_directory_user(gateway, login_id), password=PASSWORD) for login_id in logins}
    async with Browser(gateway, gateway.terminal_ssl()) as b:
        status, page, _r = await b.login(staff["yamada.taro"])
        assert status == 303, page[:400]
    for login_id in logins[1:]:
        async with Browser(gateway, gateway.terminal_ssl()) as b:
            status, page, _r = await b.login(staff[login_id])
            assert status == (303 if login_id == "suzuki.kenta" else 401), (login_id, page[:400])
    reasons = {e.actor: (json.loads(e.details or "{}")["reason"]) for e in await events(gateway, "login")}
    assert reasons == {
        "yamada.taro": "",
        "suzuki.kenta": "",  # in jiseki-users through helpdesk-team
        "tanaka.sho": "directory_disabled",
        "kato.yui": "directory_expired",  # AD: must change the password first (773)
        "kobayashi.sho": "directory_not_in_groups",
    }
