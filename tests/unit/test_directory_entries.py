"""Directory entries in jiseki's terms (entries.py): fuzzed with hypothesis, since the directory is input."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.directory.entries import (
    MAX_NAME,
    EntryError,
    account_state,
    bind_name,
    bind_refusal,
    filetime_to_datetime,
    first_ou,
    normal_dn,
    person_from_entry,
    role_of,
)
from jiseki.gateway.directory.people import AccountState
from jiseki.gateway.textclean import has_controls

AD = DirectoryConfig(
    enabled=True,
    kind="ad",
    reading_attribute="msDS-PhoneticDisplayName",
    role_groups={"admin": "CN=Admins,OU=G,DC=x", "helpdesk": "CN=HD,OU=G,DC=x"},
)
LDAP = DirectoryConfig(enabled=True, kind="ldap", department_attribute="ou")
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
DN = "CN=yamada,OU=総務課,OU=職員,DC=pref,DC=example"


def ft(when: dt.datetime) -> bytes:
    return str(int((when - dt.datetime(1601, 1, 1, tzinfo=dt.UTC)).total_seconds() * 10_000_000)).encode()


def entry(**values: bytes) -> dict[str, list[bytes]]:
    base = {"sAMAccountName": [b"Yamada"], "displayName": ["山田 太郎".encode()], "department": ["総務課".encode()]}
    base.update({k.replace("_", "-"): [v] for k, v in values.items()})
    return base


def test_a_person() -> None:
    attrs = entry(msDS_PhoneticDisplayName="ﾔﾏﾀﾞ　ﾀﾛｳ".encode())
    person = person_from_entry(AD, DN, attrs, {normal_dn("CN=hd, OU=G,DC=X")}, NOW)
    assert (person.login_id, person.name, person.reading, person.department, person.role, person.state) == (
        "yamada",
        "山田 太郎",
        "やまだ たろう",
        "総務課",
        "helpdesk",
        AccountState.ACTIVE,
    )
    assert role_of(AD, {normal_dn("CN=HD,OU=G,DC=x"), normal_dn("cn=admins,ou=g,dc=x")}) == "admin"
    assert person_from_entry(
        LDAP, "uid=k,ou=税務課,ou=people,dc=t", {"uid": [b"k"], "cn": [b"K"]}, [], NOW
    ).department == ("税務課")


def test_ad_states() -> None:
    assert account_state(AD, entry(userAccountControl=b"514"), NOW) is AccountState.DISABLED
    assert account_state(AD, entry(userAccountControl=b"512"), NOW) is AccountState.ACTIVE
    assert account_state(AD, entry(accountExpires=ft(NOW - dt.timedelta(seconds=1))), NOW) is AccountState.EXPIRED
    assert account_state(AD, entry(accountExpires=ft(NOW + dt.timedelta(days=1))), NOW) is AccountState.ACTIVE
    for never in (b"0", b"9223372036854775807"):
        assert account_state(AD, entry(accountExpires=never), NOW) is AccountState.ACTIVE
    assert account_state(AD, entry(lockoutTime=ft(NOW)), NOW) is AccountState.LOCKED
    assert account_state(AD, entry(lockoutTime=b"0"), NOW) is AccountState.ACTIVE
    # AD keeps lockoutTime after the lockout ended: the computed flag, when the server gives it, decides.
    ended = entry(lockoutTime=ft(NOW), **{"msDS_User_Account_Control_Computed": b"0"})
    assert account_state(AD, ended, NOW) is AccountState.ACTIVE
    now_locked = entry(lockoutTime=ft(NOW), **{"msDS_User_Account_Control_Computed": b"16"})
    assert account_state(AD, now_locked, NOW) is AccountState.LOCKED
    both = entry(userAccountControl=b"514", lockoutTime=ft(NOW))
    assert account_state(AD, both, NOW) is AccountState.DISABLED  # the lasting reason first
    assert account_state(LDAP, {"pwdAccountLockedTime": [b"000001010000Z"]}, NOW) is AccountState.DISABLED
    assert account_state(LDAP, {"pwdAccountLockedTime": [b"20261205120000Z"]}, NOW) is AccountState.LOCKED


def test_bind_refusals() -> None:
    message = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {}, v4563"
    assert bind_refusal(message.format("533")) is AccountState.DISABLED
    assert bind_refusal(message.format("701")) is AccountState.EXPIRED
    assert bind_refusal(message.format("532")) is AccountState.EXPIRED
    assert bind_refusal(message.format("775")) is AccountState.LOCKED
    assert bind_refusal(message.format("52e")) is None  # a wrong password
    assert bind_refusal("") is None


def test_bind_names() -> None:
    """slapd binds only with DNs: these two forms are AD's (checked against a real AD before use)."""
    upn = DirectoryConfig(bind="upn", upn_suffix="pref.example.lg.jp")
    sam = DirectoryConfig(bind="sam", netbios_domain="PREF")
    assert bind_name(upn, "yamada") == "yamada@pref.example.lg.jp"
    assert bind_name(sam, "yamada") == "PREF\\yamada"


def test_refused_entries() -> None:
    for attrs in (
        entry(sAMAccountName=b""),
        entry(sAMAccountName="山田".encode()),
        entry(sAMAccountName=b"a" * 65),
        entry(displayName=b"\xff\xfe"),
        entry(displayName=b"x\x00y"),
        entry(displayName=("名" * (MAX_NAME + 1)).encode()),
        {"displayName": [b"x"]},
    ):
        try:
            person_from_entry(AD, DN, attrs, [], NOW)
        except EntryError:
            continue
        raise AssertionError(f"accepted {attrs!r}")
    odd = person_from_entry(AD, DN, entry(department=b"\x01", msDS_PhoneticDisplayName=b"\x07"), [], NOW)
    assert (odd.department, odd.reading) == (None, None)  # optional values dropped, not the person


def test_dn_helpers() -> None:
    assert normal_dn("CN=A, OU=B ,DC=x") == "cn=a,ou=b,dc=x"
    assert first_ou(DN) == "総務課"
    assert first_ou("CN=x,DC=y") is None
    assert filetime_to_datetime(0) is None


values = st.lists(st.binary(max_size=300) | st.text(max_size=80).map(str.encode), max_size=3)
names = st.sampled_from(
    [
        *("sAMAccountName", "uid", "displayName", "cn", "department", "msDS-PhoneticDisplayName", "memberOf"),
        *("userAccountControl", "accountExpires", "lockoutTime", "pwdAccountLockedTime", "SAMACCOUNTNAME"),
    ]
)


@given(dn=st.text(max_size=200), attrs=st.dictionaries(names, values, max_size=10), kind=st.sampled_from([AD, LDAP]))
def test_any_entry_is_a_person_or_refused(dn: str, attrs: dict[str, list[bytes]], kind: DirectoryConfig) -> None:
    try:
        person = person_from_entry(kind, dn, attrs, [], NOW)
    except EntryError:
        return
    assert 0 < len(person.login_id) <= 64 and person.login_id == person.login_id.lower()
    assert 0 < len(person.name) <= MAX_NAME and not has_controls(person.name)
    assert person.department is None or len(person.department) <= MAX_NAME
    assert person.role == "staff"


@given(st.integers(min_value=-(2**70), max_value=2**70))
def test_filetimes(value: int) -> None:
    when = filetime_to_datetime(value)
    assert when is None or when.tzinfo is not None


@given(st.text(max_size=300))
def test_any_bind_message(message: str) -> None:
    assert bind_refusal(message) in (None, *AccountState)


def test_the_mail_address_is_taken_when_it_is_one() -> None:
    def mail_of(config: DirectoryConfig, value: bytes | None) -> str | None:
        attrs = entry() if value is None else entry(mail=value)
        return person_from_entry(config, DN, attrs, [], NOW).email

    assert mail_of(AD, b" yamada@pref.example.lg.jp ") == "yamada@pref.example.lg.jp"
    assert mail_of(AD, None) is None
    for broken in (b"not an address", b"a@b@c", b"x" * 300 + b"@pref.example.lg.jp", b"\xff\xfe", b"a\x00@b.jp"):
        assert mail_of(AD, broken) is None, broken  # none rather than one no mail could reach
    assert mail_of(replace(AD, mail_attribute=""), b"yamada@pref.example.lg.jp") is None  # not taken
