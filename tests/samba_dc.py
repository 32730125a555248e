"""A throwaway Samba Active Directory domain controller for the tests (Debian's samba, samba-ad-dc,
samba-ad-provision, samba-dsdb-modules), populated with a small prefectural organisation.

`samba-tool domain provision` runs once and its result is kept in a cache directory (JISEKI_SAMBA_CACHE,
default ~/.cache/jiseki/samba-dc, one per Samba version); each test session copies it to a temporary
directory, so runs never share a database and the system's /etc/samba and /var/lib/samba stay untouched.

Samba's LDAP ports are fixed (389, 636, 3268, 3269: there is no setting for them), so each DC listens on
its own loopback address (127.x.y.z, all routed to `lo`) with `bind interfaces only`: sessions running
side by side do not collide, and nothing listens beyond the machine. Binding ports below 1024 needs root.
The DC runs only its LDAP service (no Kerberos, SMB, DNS, RPC) in one foreground process
(`samba -i -M single`). Its TLS certificate is issued by a test CA (jiseki's own PKI code) for the
loopback address and dc1.pref.example.lg.jp, so clients verify it as they would a real DC's.

The organisation is added over LDAPS with the administrator account (passwords as `unicodePwd`), as an
AD administrator would: three departments as OUs under OU=職員, role groups (the helpdesk group holds a
nested group), a disabled, an expired, a locked-out and a must-change-password member of staff, and a
read-only service account for searches and synchronisation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ldap3 import NONE, Connection, Server, Tls

from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.directory.people import AccountState
from jiseki.gateway.pki import CertificateAuthority

REALM = "PREF.EXAMPLE.LG.JP"
NETBIOS_DOMAIN = "PREF"
UPN_SUFFIX = "pref.example.lg.jp"
HOST_NAME = "dc1.pref.example.lg.jp"
BASE_DN = "DC=pref,DC=example,DC=lg,DC=jp"
STAFF_DN = f"OU=職員,{BASE_DN}"
GROUPS_DN = f"OU=Groups,{BASE_DN}"
SERVICE_DN = f"CN=svc-jiseki,OU=Service,{BASE_DN}"
ADMIN_PASSWORD = "Samba-Admin-7-Kanri"
PASSWORD = "Shokuin-Pass-2026"
SERVICE_PASSWORD = "Service-Read-Only-9"
LOCKOUT_THRESHOLD = 5
# Bump when the provisioning options change, so that an old cached domain is not reused.
LAYOUT = "1"
_DIR = "@JISEKI_SAMBA_DIR@"  # in the cached smb.conf: the directory of the copy that runs

DEPARTMENTS = ("総務課", "財政課", "情報政策課")
# Role groups in OU=Groups (names as in tests/directory_server.py, the slapd twin); the helpdesk
# group's members include a nested group (one level down).
ROLE_GROUPS = {"admin": "jiseki-admins", "helpdesk": "jiseki-helpdesk", "auditor": "jiseki-auditors"}
NESTED_GROUP = "helpdesk-team"  # member of jiseki-helpdesk
STAFF_GROUP = "jiseki-users"  # every member of staff allowed in jiseki (group_dns)


@dataclass(frozen=True)
class Person:
    login_id: str  # sAMAccountName
    name: str  # "surname given", as displayName
    reading: str  # hiragana, as msDS-PhoneticDisplayName
    department: str  # the OU it lives in, and its `department` attribute
    groups: tuple[str, ...]  # groups it is a direct member of
    role: str  # the role those groups give, nested membership included
    state: AccountState = AccountState.ACTIVE
    must_change_password: bool = False

    @property
    def surname(self) -> str:
        return self.name.split(" ")[0]

    @property
    def given(self) -> str:
        return self.name.split(" ")[1]

    @property
    def dn(self) -> str:
        return f"CN={self.name},OU={self.department},{STAFF_DN}"

    @property
    def upn(self) -> str:
        return f"{self.login_id}@{UPN_SUFFIX}"


_STAFF = (STAFF_GROUP,)
PEOPLE = (
    Person("yamada.taro", "山田 太郎", "やまだ たろう", "総務課", ("jiseki-admins", *_STAFF), "admin"),
    Person("sato.hanako", "佐藤 花子", "さとう はなこ", "財政課", _STAFF, "staff"),
    Person("suzuki.kenta", "鈴木 健太", "すずき けんた", "情報政策課", (NESTED_GROUP, *_STAFF), "helpdesk"),
    Person("takahashi.misaki", "高橋 美咲", "たかはし みさき", "情報政策課", ("jiseki-auditors", *_STAFF), "auditor"),
    Person("tanaka.sho", "田中 翔", "たなか しょう", "総務課", _STAFF, "staff", AccountState.DISABLED),
    Person("ito.hina", "伊藤 陽菜", "いとう ひな", "財政課", _STAFF, "staff", AccountState.EXPIRED),
    Person("watanabe.daisuke", "渡辺 大輔", "わたなべ だいすけ", "財政課", _STAFF, "staff", AccountState.LOCKED),
    # Active, but "user must change password at next logon" (pwdLastSet = 0): a bind is refused (data 773).
    Person("kato.yui", "加藤 結衣", "かとう ゆい", "総務課", _STAFF, "staff", must_change_password=True),
    # In the directory but not in jiseki-users: outside group_dns.
    Person("kobayashi.sho", "小林 翔", "こばやし しょう", "総務課", (), "staff"),
)

# Windows FILETIME: 100 ns ticks since 1601-01-01 UTC.
_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)


def filetime(when: dt.datetime) -> int:
    return (when - _FILETIME_EPOCH) // dt.timedelta(microseconds=1) * 10


def unicode_pwd(password: str) -> bytes:
    """AD's password attribute: the password in double quotes, UTF-16LE (set over LDAPS only)."""
    return f'"{password}"'.encode("utf-16-le")


PACKAGES = "samba samba-ad-provision samba-dsdb-modules samba-vfs-modules"  # Debian 12; nothing else is used here


def unavailable() -> str | None:
    """Why a DC cannot be started here (Samba's AD parts not installed), or None. The test module skips
    with this reason; anything else that stops the DC (not root: ports 389/636) fails the tests."""
    parts = {
        "samba": shutil.which("samba") is not None,
        "samba-tool (samba-common-bin)": shutil.which("samba-tool") is not None,
        "samba-ad-provision": Path("/usr/share/samba/setup/ad-schema").is_dir(),
        "samba-dsdb-modules": bool(glob.glob("/usr/lib/*/samba/ldb/samba_dsdb.so")),
        # a Recommends of samba, so not there with --no-install-recommends: provision loads acl_xattr
        "samba-vfs-modules": bool(glob.glob("/usr/lib/*/samba/vfs/acl_xattr.so")),
    }
    missing = [name for name, present in parts.items() if not present]
    if missing:
        return f"Samba AD DC not installed (apt-get install {PACKAGES}; missing: {', '.join(missing)})"
    return None


def _run(argv: list[str], timeout: float = 120) -> str:
    # Output to a file, not a pipe (see tests/pg.py): nothing started here may hold our pipe open.
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            check=False,
            timeout=timeout,
        )
        out.seek(0)
        text = out.read()
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed ({result.returncode}): {text[-1500:]}")
    return text


def _samba_version() -> str:
    return _run(["samba", "-V"]).strip().replace(" ", "-").replace("/", "_")


def _cache_root() -> Path:
    return Path(os.environ.get("JISEKI_SAMBA_CACHE") or Path.home() / ".cache" / "jiseki" / "samba-dc")


def provisioned_template() -> Path:
    """The provisioned domain in the cache, made now if missing (about 4 s). Made in a scratch directory
    and renamed into place, so a session running beside this one never sees half a domain."""
    template = _cache_root() / f"{_samba_version()}-{LAYOUT}"
    if (template / "etc" / "smb.conf").exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="provision-", dir=template.parent))
    try:
        _run(
            [
                "samba-tool",
                "domain",
                "provision",
                "--use-rfc2307",
                f"--realm={REALM}",
                f"--domain={NETBIOS_DOMAIN}",
                "--server-role=dc",
                "--dns-backend=NONE",
                "--host-name=dc1",
                f"--adminpass={ADMIN_PASSWORD}",
                f"--targetdir={scratch}",
                # Everything the DC writes stays under the target directory; only LDAP is served.
                "--option=server services = ldap",
                "--option=bind interfaces only = yes",
                "--option=interfaces = 127.0.0.1/8",
                f"--option=log file = {scratch}/log.%m",
                f"--option=pid directory = {scratch}/run",
                f"--option=winbindd socket directory = {scratch}/run/winbindd",
                f"--option=ntp signd socket directory = {scratch}/run/ntp_signd",
            ]
        )
        conf = scratch / "etc" / "smb.conf"
        conf.write_text(conf.read_text().replace(str(scratch), _DIR))
        try:
            scratch.rename(template)
        except OSError:  # another session provisioned it first
            shutil.rmtree(scratch, ignore_errors=True)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return template


def _free_loopback_address() -> str:
    """A 127.x.y.z (not 127.0.0.1) where ports 389 and 636 are free."""
    rng = random.SystemRandom()
    for _ in range(50):
        address = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        try:
            for port in (389, 636, 3268, 3269):
                with socket.socket() as s:
                    s.bind((address, port))
        except OSError:
            continue
        return address
    raise RuntimeError("no free loopback address for the Samba DC (binding port 389 needs root)")


class SambaDC:
    """One running DC for a test session: `start()` then `populate()`, `stop()` at the end."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="jiseki-samba-"))
        self.address = ""
        self.ca_file = self.dir / "pki" / "root-ca.crt"
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.dir / "samba.out"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.address}"

    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.address}"

    def start(self, timeout: float = 60) -> None:
        template = provisioned_template()
        run = self.dir / "dc"
        shutil.copytree(template, run, symlinks=True)
        self.address = _free_loopback_address()
        ca = CertificateAuthority(self.dir / "pki")
        ca.ensure_server_cert((self.address, HOST_NAME))
        conf = (run / "etc" / "smb.conf").read_text().replace(_DIR, str(run))
        conf = conf.replace("interfaces = 127.0.0.1/8", f"interfaces = {self.address}/8")
        tls = (
            f"\ttls enabled = yes\n\ttls keyfile = {ca.server_key_path}\n"
            f"\ttls certfile = {ca.server_cert_path}\n\ttls cafile = {ca.root_cert_path}\n"
        )
        conf = conf.replace("[global]\n", "[global]\n" + tls, 1)
        (run / "etc" / "smb.conf").write_text(conf)
        (run / "run").mkdir(exist_ok=True)
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                ["samba", "-i", "-M", "single", "-s", str(run / "etc" / "smb.conf"), "--debug-stdout", "-d", "1"],
                stdout=log,
                stderr=subprocess.STDOUT,
                # `samba -i` ends at the end of its standard input: the pipe closes when this process
                # dies, however it dies, so no DC outlives a killed test run.
                stdin=subprocess.PIPE,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"samba exited ({self._process.returncode}): {self.log_tail()}")
            with contextlib.suppress(Exception), self.admin():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"samba did not answer over LDAPS within {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.2)

    def log_tail(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def tls(self) -> Tls:
        return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file), version=ssl.PROTOCOL_TLS_CLIENT)

    def server(self, ldaps: bool = True) -> Server:
        return Server(
            self.address, port=636 if ldaps else 389, use_ssl=ldaps, tls=self.tls(), get_info=NONE, connect_timeout=5
        )

    @contextlib.contextmanager
    def connect(self, user: str, password: str, ldaps: bool = True, start_tls: bool = False) -> Iterator[Connection]:
        """A connection after a simple bind as `user` (UPN, DOMAIN\\login or DN), bound or not: see
        `.bound` and `.result` (AD's reason for a refusal is in result["message"], "data 533" and so on)."""
        conn = Connection(self.server(ldaps), user=user, password=password, raise_exceptions=False, receive_timeout=10)
        try:
            conn.open()
            if start_tls and not conn.start_tls():
                raise RuntimeError(f"StartTLS refused: {conn.result}")
            conn.bind()
            yield conn
        finally:
            conn.unbind()

    @contextlib.contextmanager
    def admin(self) -> Iterator[Connection]:
        with self.connect(f"Administrator@{UPN_SUFFIX}", ADMIN_PASSWORD) as conn:
            if not conn.bound:
                raise RuntimeError(f"administrator bind refused: {conn.result}")
            yield conn

    def populate(self) -> None:
        with self.admin() as c:
            window = str(-30 * 60 * 10_000_000)  # 30 minutes, as AD stores durations (negative ticks)
            modify(c, BASE_DN, lockoutThreshold=str(LOCKOUT_THRESHOLD), lockoutDuration=window)
            modify(c, BASE_DN, lockOutObservationWindow=window)
            for ou in (STAFF_DN, GROUPS_DN, f"OU=Service,{BASE_DN}"):
                _add(c, ou, ["top", "organizationalUnit"], {})
            for department in DEPARTMENTS:
                _add(c, f"OU={department},{STAFF_DN}", ["top", "organizationalUnit"], {})
            add_user(c, SERVICE_DN, "svc-jiseki", SERVICE_PASSWORD, {"description": "jiseki 読み取り専用"})
            expired = str(filetime(dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
            for p in PEOPLE:
                attrs: dict[str, object] = {
                    "givenName": p.given,
                    "sn": p.surname,
                    "displayName": p.name,
                    "msDS-PhoneticLastName": p.reading.split(" ")[0],
                    "msDS-PhoneticFirstName": p.reading.split(" ")[1],
                    "msDS-PhoneticDisplayName": p.reading,
                    "department": p.department,
                    "userPrincipalName": p.upn,
                }
                if p.state is AccountState.EXPIRED:
                    attrs["accountExpires"] = expired
                add_user(c, p.dn, p.login_id, PASSWORD, attrs, disabled=p.state is AccountState.DISABLED)
                if p.must_change_password:
                    modify(c, p.dn, pwdLastSet="0")
            groups: dict[str, list[str]] = {g: [] for g in (*ROLE_GROUPS.values(), NESTED_GROUP, STAFF_GROUP)}
            for p in PEOPLE:
                for g in p.groups:
                    groups[g].append(p.dn)
            groups[ROLE_GROUPS["helpdesk"]].append(group_dn(NESTED_GROUP))
            for g in (NESTED_GROUP, *ROLE_GROUPS.values(), STAFF_GROUP):  # the nested group first
                _add(
                    c,
                    group_dn(g),
                    ["top", "group"],
                    {"sAMAccountName": g, **({"member": groups[g]} if groups[g] else {})},
                )
        for p in PEOPLE:
            if p.state is AccountState.LOCKED:
                for _ in range(LOCKOUT_THRESHOLD):
                    with self.connect(p.upn, "wrong-" + PASSWORD):
                        pass

    def stop(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.close()  # samba -i then ends by itself
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def group_dn(name: str) -> str:
    return f"CN={name},{GROUPS_DN}"


def person(login_id: str) -> Person:
    return next(p for p in PEOPLE if p.login_id == login_id)


def _add(c: Connection, dn: str, classes: list[str], attrs: dict[str, object]) -> None:
    if not c.add(dn, classes, attrs):
        raise RuntimeError(f"adding {dn}: {c.result['description']} {c.result['message']}")


def modify(c: Connection, dn: str, **values: str) -> None:
    from ldap3 import MODIFY_REPLACE

    if not c.modify(dn, {k: [(MODIFY_REPLACE, [v])] for k, v in values.items()}):
        raise RuntimeError(f"modifying {dn}: {c.result['description']} {c.result['message']}")


def add_user(
    c: Connection, dn: str, login_id: str, password: str, attrs: dict[str, object], disabled: bool = False
) -> None:
    account_control = 0x0200 | (0x0002 if disabled else 0)  # NORMAL_ACCOUNT, ACCOUNTDISABLE
    _add(
        c,
        dn,
        ["top", "person", "organizationalPerson", "user"],
        {
            "sAMAccountName": login_id,
            "unicodePwd": unicode_pwd(password),
            "userAccountControl": str(account_control),
            **attrs,
        },
    )


def ad_config(dc: SambaDC, **changes: object) -> DirectoryConfig:
    """An enabled kind="ad" configuration for this DC over LDAPS, binding by UPN (as the slapd twin's
    `ad_config`, which binds with "search" since slapd knows no UPN)."""
    values: dict[str, object] = {
        "enabled": True,
        "kind": "ad",
        "servers": (dc.ldaps_url,),
        "ca_file": str(dc.ca_file),
        "timeout_seconds": 5,
        "bind": "upn",
        "upn_suffix": UPN_SUFFIX,
        "netbios_domain": NETBIOS_DOMAIN,
        "service_dn": SERVICE_DN,
        "service_password": SERVICE_PASSWORD,
        "base_dns": (STAFF_DN,),
        "reading_attribute": "msDS-PhoneticDisplayName",
        "role_groups": {role: group_dn(name) for role, name in ROLE_GROUPS.items()},
    }
    values.update(changes)
    return DirectoryConfig(**values)  # type: ignore[arg-type]
