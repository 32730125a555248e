"""The directory client: a person's password checked by binding as them, the staff list read for the
synchronisation, and a connection test for the console.

ldap3 is blocking: every exchange runs in a small thread pool of its own (not the default executor,
which the password hashing and other work share). Servers are tried in the configured order; the
next one is tried only when one does not answer (connection refused, timeout, TLS failure), never
after an answer: a wrong password is final. TLS is always verified (CERT_REQUIRED, host name
checked) against `ca_file` or the system's CAs; ldap:// is used only with StartTLS before any bind.

Nested groups: AD resolves them with the matching rule LDAP_MATCHING_RULE_IN_CHAIN, which OpenLDAP
does not know (its filter then quietly matches nothing rather than failing). The client resolves
nesting itself for both kinds: AD upward through `memberOf` (a group read once per run), plain LDAP
from the groups (groupOfNames / groupOfUniqueNames) found next to the configured groups.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPExceptionError
from ldap3.utils.conv import escape_filter_chars

from jiseki.config_directory import DirectoryConfig

from .entries import (
    MAX_VALUE_BYTES,
    UAC_COMPUTED,
    EntryError,
    bind_name,
    bind_refusal,
    direct_groups,
    in_allowed_groups,
    normal_dn,
    person_from_entry,
)
from .people import AccountState, DirectoryPerson

log = logging.getLogger(__name__)

MAX_PASSWORD = 1024  # longer is no password anyone types; never sent
MAX_GROUP_DEPTH = 16
MAX_GROUPS = 5000  # groups read while resolving nesting in one run
PAGE_SIZE = 500
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="directory")
_INVALID_CREDENTIALS = 49
_T = TypeVar("_T")


class DirectoryUnavailable(Exception):
    """No server answered (or the service account was refused: a configuration problem)."""


class DirectoryRefused(Exception):
    """The directory answered but cannot be used as it is (too many entries, a bad answer)."""


class Verdict(Enum):
    OK = "ok"
    WRONG = "wrong"  # wrong password or no such person (one answer for both)
    REFUSED = "refused"  # right or not, the directory refuses the account (state says why)
    UNAVAILABLE = "unavailable"  # no server answered


@dataclass(frozen=True)
class BindVerdict:
    verdict: Verdict
    person: DirectoryPerson | None = None
    state: AccountState | None = None
    reason: str = ""  # for the audit trail: directory_disabled, directory_not_in_groups, ...
    server: str = ""  # the server that answered


@dataclass(frozen=True)
class ServerCheck:
    url: str
    reachable: bool = False
    tls_ok: bool = False
    bind_ok: bool | None = None  # None: no service account configured
    seconds: float = 0.0
    error: str = ""  # unreachable / tls / service_bind / error


@dataclass
class Listing:
    """`fetch_listing`'s answer: the people, and the entries skipped with the reason."""

    people: list[DirectoryPerson] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    server: str = ""


async def _off_loop(fn: Callable[..., _T], *args: Any) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)


def _tls(config: DirectoryConfig) -> ldap3.Tls:
    return ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=config.ca_file or None,
        version=ssl.PROTOCOL_TLS_CLIENT,
    )


def _server(config: DirectoryConfig, url: str) -> ldap3.Server:
    parts = urlsplit(url)
    secure = parts.scheme == "ldaps"
    return ldap3.Server(
        parts.hostname or "",
        port=parts.port or (636 if secure else 389),
        use_ssl=secure,
        tls=_tls(config),
        get_info=ldap3.NONE,
        connect_timeout=config.timeout_seconds,
    )


@contextmanager
def _connection(config: DirectoryConfig, url: str) -> Iterator[ldap3.Connection]:
    """An open (TLS) connection to one server, not yet bound. Raises DirectoryUnavailable when the
    server does not answer or its certificate is not trusted."""
    conn = ldap3.Connection(
        _server(config, url),
        authentication=ldap3.SIMPLE,
        receive_timeout=config.timeout_seconds,
        read_only=True,
        auto_referrals=False,
        raise_exceptions=False,
    )
    try:
        try:
            conn.open()
            if url.startswith("ldap://") and not conn.start_tls():
                raise DirectoryUnavailable(f"{url}: StartTLS refused")
        except (LDAPException, OSError) as e:
            raise DirectoryUnavailable(f"{url}: {e}") from None
        yield conn
    finally:
        try:
            conn.unbind()
        except (LDAPException, OSError):
            pass


def _bind(conn: ldap3.Connection, user: str, password: str) -> tuple[bool, str]:
    """A simple bind; (success, diagnostic message). An empty password is never sent: the LDAP
    "unauthenticated bind" would succeed with it."""
    if not password or not user:
        return False, ""
    conn.user, conn.password = user, password
    try:
        ok = bool(conn.bind())
    except LDAPExceptionError as e:
        raise DirectoryUnavailable(str(e)) from None
    result = conn.result or {}
    if not ok and result.get("result") != _INVALID_CREDENTIALS:
        if result.get("result") in (None, 51, 52, 53, 80):  # busy, unavailable, unwilling, other
            raise DirectoryUnavailable(f"bind: {result.get('description')} {result.get('message')}")
    return ok, str(result.get("message") or "")


def _search(
    conn: ldap3.Connection, base: str, flt: str, attributes: list[str], scope: str = ldap3.SUBTREE, limit: int = 0
) -> list[dict[str, Any]]:
    """Entries (dn, raw_attributes) of one search; a missing base is no entries."""
    try:
        conn.search(base, flt, search_scope=scope, attributes=attributes, size_limit=limit)
    except LDAPExceptionError as e:
        raise DirectoryUnavailable(str(e)) from None
    code = (conn.result or {}).get("result")
    # Success, no such object, or the size limit asked for (only then: a server's own limit is no answer)
    if code not in (0, 32) and not (code == 4 and limit):
        raise DirectoryRefused(f"search {base}: {conn.result}")
    return [r for r in conn.response or [] if r.get("type") == "searchResEntry"]


def _person_attributes(config: DirectoryConfig) -> list[str]:
    names = [config.effective_login_attribute, config.name_attribute, "cn", "memberOf"]
    names += [config.reading_attribute] if config.reading_attribute else []
    names += [config.mail_attribute] if config.mail_attribute else []
    if config.department_attribute.lower() != "ou":
        names.append(config.department_attribute)
    if config.kind == "ad":
        names += ["userAccountControl", "accountExpires", "lockoutTime", UAC_COMPUTED]
    else:
        names.append("pwdAccountLockedTime")
    return names


def _login_filter(config: DirectoryConfig, login_id: str) -> str:
    return f"(&{config.effective_user_filter}({config.effective_login_attribute}={escape_filter_chars(login_id)}))"


class _Groups:
    """Every group an entry is in, nested ones included, with the groups read at most once per run."""

    def __init__(self, config: DirectoryConfig, conn: ldap3.Connection) -> None:
        self.config, self.conn = config, conn
        self._parents: dict[str, list[str]] = {}  # group -> the groups it is directly in
        self._ldap_members: dict[str, list[str]] | None = None  # plain LDAP: member -> its groups

    def prepare(self) -> None:
        if self.config.kind != "ad":
            self._ldap_parents()

    def of(self, dn: str, attrs: dict[str, list[bytes]]) -> set[str]:
        if self.config.kind == "ad":
            start = direct_groups(attrs)
        else:
            start = self._ldap_parents().get(normal_dn(dn), [])
        found: set[str] = set()
        frontier = list(start)
        for _depth in range(MAX_GROUP_DEPTH):
            new = [g for g in frontier if g not in found]
            if not new:
                break
            found.update(new)
            frontier = [p for g in new for p in self._parents_of(g)]
        return found

    def _parents_of(self, group: str) -> list[str]:
        if self.config.kind != "ad":
            return self._ldap_parents().get(group, [])
        if group not in self._parents:
            if len(self._parents) >= MAX_GROUPS:
                raise DirectoryRefused(f"more than {MAX_GROUPS} groups to resolve")
            rows = _search(self.conn, group, "(objectClass=*)", ["memberOf"], ldap3.BASE)
            self._parents[group] = direct_groups(rows[0]["raw_attributes"]) if rows else []
        return self._parents[group]

    def _ldap_parents(self) -> dict[str, list[str]]:
        """Plain LDAP: the groups under the configured groups' parents (one search each), as member -> groups."""
        if self._ldap_members is None:
            members: dict[str, list[str]] = {}
            targets = list(self.config.role_groups.values()) + list(self.config.group_dns)
            bases = {normal_dn(dn).split(",", 1)[1] for dn in targets if "," in normal_dn(dn)}
            flt = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))"
            count = 0
            for base in sorted(bases):
                for row in _paged(self.conn, base, flt, ["member", "uniqueMember"]):
                    count += 1
                    if count > MAX_GROUPS:
                        raise DirectoryRefused(f"more than {MAX_GROUPS} groups to resolve")
                    group = normal_dn(row["dn"])
                    raw = row["raw_attributes"]
                    for value in list(raw.get("member", [])) + list(raw.get("uniqueMember", [])):
                        try:
                            members.setdefault(normal_dn(bytes(value).decode("utf-8")), []).append(group)
                        except (EntryError, UnicodeDecodeError):
                            continue
            self._ldap_members = members
        return self._ldap_members


def _each_server(config: DirectoryConfig, work: Callable[[ldap3.Connection, str], _T]) -> _T:
    """`work` on the first server that answers, in the configured order."""
    problems = []
    for url in config.servers:
        try:
            with _connection(config, url) as conn:
                return work(conn, url)
        except DirectoryUnavailable as e:
            log.warning("directory server %s not usable: %s", url, e)
            problems.append(str(e))
    raise DirectoryUnavailable("; ".join(problems) or "no directory server configured")


def _service_bind(config: DirectoryConfig, conn: ldap3.Connection) -> None:
    ok, message = _bind(conn, config.service_dn, config.service_password)
    if not ok:
        # The next server would refuse it too, but it is the configuration that is wrong: say so.
        raise DirectoryUnavailable(f"the service account was refused: {message}")


def _verify_blocking(config: DirectoryConfig, login_id: str, password: str, now: dt.datetime) -> BindVerdict:
    def work(conn: ldap3.Connection, url: str) -> BindVerdict:
        flt = _login_filter(config, login_id)
        attributes = _person_attributes(config)
        if config.bind == "search":
            _service_bind(config, conn)
            rows = [row for base in config.base_dns for row in _search(conn, base, flt, ["1.1"], limit=2)]
            if len(rows) != 1:
                if len(rows) > 1:
                    log.warning("directory: %d entries for one login ID; refused", len(rows))
                return BindVerdict(Verdict.WRONG, reason="directory_unknown_user", server=url)
            user = rows[0]["dn"]
        else:
            user = bind_name(config, login_id)
        ok, message = _bind(conn, user, password)
        if not ok:
            state = bind_refusal(message)
            if state is not None:
                return BindVerdict(Verdict.REFUSED, state=state, reason=f"directory_{state.value}", server=url)
            return BindVerdict(Verdict.WRONG, reason="directory_wrong_password", server=url)
        rows = [row for base in config.base_dns for row in _search(conn, base, flt, attributes, limit=2)]
        if len(rows) != 1:  # bound, but not a person under base_dns with the filter
            return BindVerdict(Verdict.REFUSED, state=AccountState.DISABLED, reason="directory_not_found", server=url)
        row = rows[0]
        groups = _Groups(config, conn).of(row["dn"], row["raw_attributes"])
        try:
            person = person_from_entry(config, row["dn"], row["raw_attributes"], groups, now)
        except EntryError as e:
            log.warning("directory entry %s not usable: %s", row["dn"], e)
            return BindVerdict(Verdict.REFUSED, state=AccountState.DISABLED, reason="directory_bad_entry", server=url)
        if person.login_id != login_id.lower():
            return BindVerdict(Verdict.WRONG, reason="directory_unknown_user", server=url)
        if not in_allowed_groups(config, groups):
            return BindVerdict(
                Verdict.REFUSED, person, AccountState.DISABLED, reason="directory_not_in_groups", server=url
            )
        if person.state is not AccountState.ACTIVE:
            return BindVerdict(
                Verdict.REFUSED, person, person.state, reason=f"directory_{person.state.value}", server=url
            )
        return BindVerdict(Verdict.OK, person, AccountState.ACTIVE, server=url)

    try:
        return _each_server(config, work)
    except DirectoryUnavailable as e:
        return BindVerdict(Verdict.UNAVAILABLE, reason="directory_unavailable", server=str(e)[:500])
    except DirectoryRefused as e:
        log.warning("directory answer not usable: %s", e)
        return BindVerdict(Verdict.UNAVAILABLE, reason="directory_bad_answer")


async def verify_password(config: DirectoryConfig, login_id: str, password: str) -> BindVerdict:
    """Check `password` by binding as the person; read their entry for the state, role and department."""
    if not password or len(password) > MAX_PASSWORD or not login_id or len(login_id.encode()) > MAX_VALUE_BYTES:
        return BindVerdict(Verdict.WRONG, reason="directory_wrong_password")
    return await _off_loop(_verify_blocking, config, login_id, password, dt.datetime.now(dt.UTC))


def _paged(conn: ldap3.Connection, base: str, flt: str, attributes: list[str]) -> Iterator[dict[str, Any]]:
    """Every entry of a search, a page (simple paged results) at a time. The page and its cookie are
    taken before yielding: the consumer runs other searches on `conn` (groups), which replace
    `conn.result` and `conn.response`."""
    cookie: bytes | None = None
    while True:
        try:
            conn.search(base, flt, attributes=attributes, paged_size=PAGE_SIZE, paged_cookie=cookie)
        except LDAPExceptionError as e:
            raise DirectoryUnavailable(str(e)) from None
        result = dict(conn.result or {})
        if result.get("result") == 32:  # no such object: an empty base
            return
        if result.get("result") != 0:  # sizeLimitExceeded included: a part of the staff is not a list
            raise DirectoryRefused(f"search {base}: {result.get('description')} {result.get('message')}")
        page = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
        controls = result.get("controls") or {}
        cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
        yield from page
        if not cookie:
            return


def _fetch_blocking(config: DirectoryConfig, now: dt.datetime) -> Listing:
    def work(conn: ldap3.Connection, url: str) -> Listing:
        _service_bind(config, conn)
        listing = Listing(server=url)
        groups = _Groups(config, conn)
        groups.prepare()  # before the people's paged search: one paged search at a time on a connection
        seen: set[str] = set()
        count = 0
        for base in config.base_dns:
            for row in _paged(conn, base, config.effective_user_filter, _person_attributes(config)):
                count += 1
                if count > config.max_entries:
                    raise DirectoryRefused(f"more than {config.max_entries} entries (directory.max_entries)")
                try:
                    member_of = groups.of(row["dn"], row["raw_attributes"])
                    if not in_allowed_groups(config, member_of):
                        continue
                    person = person_from_entry(config, row["dn"], row["raw_attributes"], member_of, now)
                except EntryError as e:
                    listing.skipped.append((str(row.get("dn", ""))[:MAX_VALUE_BYTES], str(e)))
                    continue
                if person.login_id in seen:
                    listing.skipped.append((person.dn, f"login ID {person.login_id} used by another entry"))
                    continue
                seen.add(person.login_id)
                listing.people.append(person)
        return listing

    return _each_server(config, work)


async def fetch_listing(config: DirectoryConfig) -> Listing:
    """Every person under base_dns matching the filter (and in group_dns, if set), with the entries
    skipped and why. Raises DirectoryUnavailable (no server) or DirectoryRefused (above max_entries,
    an error answer): a synchronisation must then change nothing."""
    return await _off_loop(_fetch_blocking, config, dt.datetime.now(dt.UTC))


async def fetch_people(config: DirectoryConfig) -> list[DirectoryPerson]:
    return (await fetch_listing(config)).people


def _check_blocking(config: DirectoryConfig, url: str) -> ServerCheck:
    started = time.monotonic()
    parts = urlsplit(url)
    port = parts.port or (636 if parts.scheme == "ldaps" else 389)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=config.timeout_seconds):
            pass
    except OSError:
        return ServerCheck(url, seconds=time.monotonic() - started, error="unreachable")
    try:
        with _connection(config, url) as conn:
            if not (config.service_dn and config.service_password):
                return ServerCheck(url, True, True, None, time.monotonic() - started)
            try:
                ok, _message = _bind(conn, config.service_dn, config.service_password)
            except DirectoryUnavailable:
                ok = False
            return ServerCheck(url, True, True, ok, time.monotonic() - started, "" if ok else "service_bind")
    except DirectoryUnavailable:
        return ServerCheck(url, True, False, None, time.monotonic() - started, "tls")


async def test_connection(config: DirectoryConfig) -> list[ServerCheck]:
    """Each server in turn: reachable (TCP), TLS verified, service account accepted, how long it took."""
    return [await _off_loop(_check_blocking, config, url) for url in config.servers]


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported
