"""A real OpenLDAP server (Debian's /usr/sbin/slapd) for the directory tests: started in a temporary
directory on 127.0.0.1 high ports (ldap:// and ldaps://), with a test CA, an AD-like schema and a
small organisation, plus a plain-LDAP (inetOrgPerson + groupOfNames) tree.

Two databases:
- AD-like, `DC=pref,DC=example,DC=lg,DC=jp`: `user`/`group` entries with sAMAccountName,
  userPrincipalName, userAccountControl, accountExpires, lockoutTime, department,
  msDS-PhoneticDisplayName and memberOf stored explicitly (direct groups, as AD shows them). slapd
  cannot bind with a UPN or DOMAIN\\login: the AD-like tests bind with bind = "search".
- plain LDAP, `dc=town,dc=example`: inetOrgPerson under department OUs, groupOfNames (nested).

`ldap3` is used only to change entries in tests (`modify`, `set_password`), as the root DN.
"""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ldap3

from jiseki.config_directory import DirectoryConfig
from jiseki.gateway.pki import CertificateAuthority

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"

AD_SUFFIX = "DC=pref,DC=example,DC=lg,DC=jp"
LDAP_SUFFIX = "dc=town,dc=example"
ROOT_PASSWORD = "root-secret"
SERVICE_PASSWORD = "Service-Pass-1"
PASSWORD = "Directory-Pass-1"
AD_STAFF = f"OU=職員,{AD_SUFFIX}"
AD_GROUPS = f"OU=Groups,{AD_SUFFIX}"
AD_SERVICE_DN = f"CN=svc-jiseki,OU=Service,{AD_SUFFIX}"
LDAP_PEOPLE = f"ou=people,{LDAP_SUFFIX}"
LDAP_GROUPS = f"ou=groups,{LDAP_SUFFIX}"
LDAP_SERVICE_DN = f"cn=svc-jiseki,{LDAP_SUFFIX}"

_P = "1.3.6.1.4.1.99999.1"  # private OIDs: attributes 1.x, classes 2.x
_DSTRING = "1.3.6.1.4.1.1466.115.121.1.15"
_INT = "1.3.6.1.4.1.1466.115.121.1.27"
_DN = "1.3.6.1.4.1.1466.115.121.1.12"
AD_SCHEMA = f"""
attributetype ( {_P}.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX {_DSTRING} SINGLE-VALUE )
attributetype ( {_P}.1.2 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SYNTAX {_DSTRING} SINGLE-VALUE )
attributetype ( {_P}.1.3 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX {_INT} SINGLE-VALUE )
attributetype ( {_P}.1.4 NAME 'accountExpires' EQUALITY integerMatch SYNTAX {_INT} SINGLE-VALUE )
attributetype ( {_P}.1.5 NAME 'lockoutTime' EQUALITY integerMatch SYNTAX {_INT} SINGLE-VALUE )
attributetype ( {_P}.1.6 NAME 'department' EQUALITY caseIgnoreMatch SYNTAX {_DSTRING} SINGLE-VALUE )
attributetype ( {_P}.1.7 NAME 'msDS-PhoneticDisplayName' EQUALITY caseIgnoreMatch SYNTAX {_DSTRING} SINGLE-VALUE )
attributetype ( {_P}.1.8 NAME 'memberOf' EQUALITY distinguishedNameMatch SYNTAX {_DN} )
attributetype ( {_P}.1.9 NAME 'objectCategory' EQUALITY caseIgnoreMatch SYNTAX {_DSTRING} SINGLE-VALUE )
objectclass ( {_P}.2.1 NAME 'user' SUP organizationalPerson STRUCTURAL MUST sAMAccountName
  MAY ( userPrincipalName $ userAccountControl $ accountExpires $ lockoutTime $ displayName $ department $
        msDS-PhoneticDisplayName $ memberOf $ objectCategory $ mail $ givenName ) )
objectclass ( {_P}.2.2 NAME 'group' SUP top STRUCTURAL MUST cn
  MAY ( member $ memberOf $ sAMAccountName $ description $ objectCategory ) )
"""

NEVER = 0x7FFFFFFFFFFFFFFF  # AD accountExpires "never"
_EPOCH_1601 = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)


def filetime(when: dt.datetime) -> int:
    """A Windows FILETIME (100 ns since 1601-01-01 UTC), as AD stores accountExpires and lockoutTime."""
    return int((when - _EPOCH_1601).total_seconds() * 10_000_000)


Entry = tuple[str, dict[str, list[str]]]


def ad_user(login: str, name: str, reading: str, dept: str, groups: Iterable[str], **extra: str) -> Entry:
    family, given = name.split(" ", 1)
    attrs = {
        "objectClass": ["top", "person", "organizationalPerson", "user"],
        "cn": [login],
        "sn": [family],
        "sAMAccountName": [login],
        "userPrincipalName": [f"{login}@pref.example.lg.jp"],
        "displayName": [name],
        "msDS-PhoneticDisplayName": [reading],
        "department": [dept],
        "objectCategory": ["person"],
        "userAccountControl": [extra.pop("uac", "512")],
        "accountExpires": [extra.pop("expires", str(NEVER))],
        "userPassword": [PASSWORD],
        "memberOf": [f"CN={g},{AD_GROUPS}" for g in groups],
        "givenName": [given],
    }
    attrs.update({k: [v] for k, v in extra.items()})
    return f"CN={login},OU={dept},{AD_STAFF}", {k: v for k, v in attrs.items() if v}


def _ad_group(cn: str, members: Iterable[str], member_of: Iterable[str] = ()) -> Entry:
    attrs = {
        "objectClass": ["top", "group"],
        "cn": [cn],
        "sAMAccountName": [cn],
        "member": list(members),
        "memberOf": [f"CN={g},{AD_GROUPS}" for g in member_of],
    }
    return f"CN={cn},{AD_GROUPS}", {k: v for k, v in attrs.items() if v}


def _ad_dn(login: str, dept: str) -> str:
    return f"CN={login},OU={dept},{AD_STAFF}"


def _ou(dn: str) -> Entry:
    name = dn.split(",", 1)[0].split("=", 1)[1]
    return dn, {"objectClass": ["top", "organizationalUnit"], "ou": [name]}


def ad_entries() -> list[Entry]:
    """The AD-like organisation: three departments, roles by (nested) groups, three refused accounts."""
    past = filetime(dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    locked = filetime(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    g = f",{AD_GROUPS}"
    return [
        (AD_SUFFIX, {"objectClass": ["top", "dcObject", "organization"], "dc": ["pref"], "o": ["テスト県"]}),
        _ou(AD_STAFF),
        _ou(f"OU=総務課,{AD_STAFF}"),
        _ou(f"OU=情報政策課,{AD_STAFF}"),
        _ou(f"OU=税務課,{AD_STAFF}"),
        _ou(AD_GROUPS),
        _ou(f"OU=Service,{AD_SUFFIX}"),
        (
            AD_SERVICE_DN,
            {
                "objectClass": ["top", "person", "organizationalPerson", "user"],
                "cn": ["svc-jiseki"],
                "sn": ["svc"],
                "sAMAccountName": ["svc-jiseki"],
                "objectCategory": ["person"],
                "userPassword": [SERVICE_PASSWORD],
            },
        ),
        ad_user("yamada", "山田 太郎", "やまだ たろう", "総務課", ["jiseki-users"], mail="yamada@pref.example.lg.jp"),
        ad_user("sato", "佐藤 花子", "さとう はなこ", "情報政策課", ["jiseki-users", "jiseki-admins"]),
        ad_user("suzuki", "鈴木 一郎", "スズキ イチロウ", "税務課", ["tax-staff", "helpdesk-team"]),
        ad_user("takahashi", "高橋 次郎", "たかはし じろう", "税務課", ["tax-staff"], uac="514"),
        ad_user("tanaka", "田中 三郎", "たなか さぶろう", "税務課", ["tax-staff"], expires=str(past)),
        ad_user("ito", "伊藤 四郎", "いとう しろう", "総務課", ["jiseki-users"], lockoutTime=str(locked)),
        ad_user("watanabe", "渡辺 五郎", "わたなべ ごろう", "総務課", []),  # in no jiseki group
        _ad_group("jiseki-admins", [_ad_dn("sato", "情報政策課")]),
        _ad_group("jiseki-helpdesk", [f"CN=helpdesk-team{g}"]),
        _ad_group("helpdesk-team", [_ad_dn("suzuki", "税務課")], ["jiseki-helpdesk"]),  # nested
        _ad_group(
            "jiseki-users",
            [_ad_dn("yamada", "総務課"), _ad_dn("sato", "情報政策課"), _ad_dn("ito", "総務課"), f"CN=tax-staff{g}"],
        ),
        _ad_group(
            "tax-staff",
            [_ad_dn("suzuki", "税務課"), _ad_dn("takahashi", "税務課"), _ad_dn("tanaka", "税務課")],
            ["jiseki-users"],
        ),
    ]


def ldap_person(uid: str, name: str, dept: str) -> Entry:
    family, given = name.split(" ", 1)
    return f"uid={uid},ou={dept},{LDAP_PEOPLE}", {
        "objectClass": ["top", "person", "organizationalPerson", "inetOrgPerson"],
        "uid": [uid],
        "cn": [name],
        "sn": [family],
        "givenName": [given],
        "displayName": [name],
        "userPassword": [PASSWORD],
    }


def ldap_entries() -> list[Entry]:
    """The plain-LDAP organisation: people under department OUs, groupOfNames with a nested group."""
    p = f",{LDAP_PEOPLE}"
    return [
        (LDAP_SUFFIX, {"objectClass": ["top", "dcObject", "organization"], "dc": ["town"], "o": ["テスト町"]}),
        _ou(LDAP_PEOPLE),
        _ou(f"ou=総務課{p}"),
        _ou(f"ou=情報政策課{p}"),
        _ou(LDAP_GROUPS),
        (
            LDAP_SERVICE_DN,
            {
                "objectClass": ["top", "organizationalRole", "simpleSecurityObject"],
                "cn": ["svc-jiseki"],
                "userPassword": [SERVICE_PASSWORD],
            },
        ),
        ldap_person("kimura", "木村 一子", "総務課"),
        ldap_person("hayashi", "林 二子", "情報政策課"),
        ldap_person("mori", "森 三子", "情報政策課"),
        (
            f"cn=jiseki-admins,{LDAP_GROUPS}",
            {"objectClass": ["top", "groupOfNames"], "cn": ["jiseki-admins"], "member": [f"cn=it-core,{LDAP_GROUPS}"]},
        ),
        (
            f"cn=it-core,{LDAP_GROUPS}",
            {"objectClass": ["top", "groupOfNames"], "cn": ["it-core"], "member": [f"uid=hayashi,ou=情報政策課{p}"]},
        ),
    ]


def _ldif_line(key: str, value: str) -> str:
    safe = value.isascii() and value.isprintable() and not value.startswith((" ", ":", "<")) and value == value.strip()
    return f"{key}: {value}" if safe else f"{key}:: {base64.b64encode(value.encode()).decode()}"


def to_ldif(entries: Iterable[Entry]) -> str:
    blocks = []
    for dn, attrs in entries:
        lines = [_ldif_line("dn", dn)] + [_ldif_line(k, v) for k, values in attrs.items() for v in values]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DirectoryServer:
    """One slapd. `start()` and `stop()` may be called again (the data stays: failover tests)."""

    root: Path
    ca: CertificateAuthority
    port_ldap: int = field(default_factory=_free_port)
    port_ldaps: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url_ldap(self) -> str:
        return f"ldap://127.0.0.1:{self.port_ldap}"

    @property
    def url_ldaps(self) -> str:
        return f"ldaps://127.0.0.1:{self.port_ldaps}"

    @property
    def ca_file(self) -> str:
        return str(self.ca.root_cert_path)

    def prepare(self) -> None:
        """Write slapd.conf, the schema and the two databases (slapadd, offline)."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "ad-like.schema").write_text(AD_SCHEMA, encoding="utf-8")
        databases = []
        for name, suffix, service in (("ad", AD_SUFFIX, AD_SERVICE_DN), ("ldap", LDAP_SUFFIX, LDAP_SERVICE_DN)):
            (self.root / name).mkdir(exist_ok=True)
            databases.append(
                f"""
database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw {ROOT_PASSWORD}
directory {self.root / name}
maxsize 16777216
access to attrs=userPassword by anonymous auth by self write by * none
access to * by dn.exact="{service}" read by users read by * none
"""
            )
        schema = "/etc/ldap/schema"
        (self.root / "slapd.conf").write_text(
            f"""
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {self.root / "ad-like.schema"}
pidfile {self.root / "slapd.pid"}
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited
TLSCACertificateFile {self.ca.root_cert_path}
TLSCertificateFile {self.ca.server_cert_path}
TLSCertificateKeyFile {self.ca.server_key_path}
"""
            + "".join(databases),
            encoding="utf-8",
        )
        for suffix, entries in ((AD_SUFFIX, ad_entries()), (LDAP_SUFFIX, ldap_entries())):
            ldif = self.root / f"{suffix.split(',')[0].split('=')[1]}.ldif"
            ldif.write_text(to_ldif(entries), encoding="utf-8")
            done = subprocess.run(
                [SLAPADD, "-q", "-f", str(self.root / "slapd.conf"), "-b", suffix, "-l", str(ldif)],
                capture_output=True,
                check=False,
            )
            if done.returncode:
                raise RuntimeError(f"slapadd {suffix}: {done.stderr.decode(errors='replace')[-2000:]}")

    def start(self) -> None:
        if self.process is not None:
            return
        urls = f"{self.url_ldap}/ {self.url_ldaps}/"
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(self.root / "slapd.conf"), "-h", urls],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                self.process = None
                raise RuntimeError(f"slapd exited: {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port_ldaps), timeout=0.2):
                    pass
                with socket.create_connection(("127.0.0.1", self.port_ldap), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not start listening within 15 s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    # -- changes made by tests, as the root DN --

    def _admin(self, dn: str) -> ldap3.Connection:
        suffix = LDAP_SUFFIX if dn.lower().endswith(LDAP_SUFFIX) else AD_SUFFIX
        server = ldap3.Server("127.0.0.1", port=self.port_ldap, connect_timeout=5)
        return ldap3.Connection(server, f"cn=admin,{suffix}", ROOT_PASSWORD, auto_bind=True, receive_timeout=5)

    def modify(self, dn: str, changes: dict[str, list[str]]) -> None:
        """Replace attributes of an entry (an empty list deletes the attribute)."""
        conn = self._admin(dn)
        try:
            ok = conn.modify(dn, {k: [(ldap3.MODIFY_REPLACE, v)] for k, v in changes.items()})
            assert ok, conn.result
        finally:
            conn.unbind()

    def add(self, dn: str, attrs: dict[str, list[str]]) -> None:
        conn = self._admin(dn)
        try:
            assert conn.add(dn, attributes=attrs), conn.result
        finally:
            conn.unbind()

    def add_many(self, entries: list[Entry]) -> None:
        """Many entries over one connection (all in one tree)."""
        conn = self._admin(entries[0][0])
        try:
            for dn, attrs in entries:
                assert conn.add(dn, attributes=attrs), conn.result
        finally:
            conn.unbind()

    def delete(self, dn: str) -> None:
        conn = self._admin(dn)
        try:
            assert conn.delete(dn), conn.result
        finally:
            conn.unbind()

    def set_password(self, dn: str, password: str) -> None:
        self.modify(dn, {"userPassword": [password]})

    # -- ready-made settings for the two trees --

    def ad_config(self, *servers: str, **changes: object) -> DirectoryConfig:
        """An enabled kind="ad" configuration over LDAPS (bind "search": slapd knows no UPN binds)."""
        values: dict[str, object] = {
            "enabled": True,
            "kind": "ad",
            "servers": servers or (self.url_ldaps,),
            "ca_file": self.ca_file,
            "timeout_seconds": 3,
            "bind": "search",
            "service_dn": AD_SERVICE_DN,
            "service_password": SERVICE_PASSWORD,
            "base_dns": (AD_STAFF,),
            "reading_attribute": "msDS-PhoneticDisplayName",
            "role_groups": {"admin": f"CN=jiseki-admins,{AD_GROUPS}", "helpdesk": f"CN=jiseki-helpdesk,{AD_GROUPS}"},
        }
        values.update(changes)
        return DirectoryConfig(**values)  # type: ignore[arg-type]

    def ldap_config(self, *servers: str, **changes: object) -> DirectoryConfig:
        """An enabled kind="ldap" configuration over StartTLS, departments from the DN's OU."""
        values: dict[str, object] = {
            "enabled": True,
            "kind": "ldap",
            "servers": servers or (self.url_ldap,),
            "start_tls": True,
            "ca_file": self.ca_file,
            "timeout_seconds": 3,
            "bind": "search",
            "service_dn": LDAP_SERVICE_DN,
            "service_password": SERVICE_PASSWORD,
            "base_dns": (LDAP_PEOPLE,),
            "department_attribute": "ou",
            "role_groups": {"admin": f"cn=jiseki-admins,{LDAP_GROUPS}"},
        }
        values.update(changes)
        return DirectoryConfig(**values)  # type: ignore[arg-type]


def make_ca(root: Path) -> CertificateAuthority:
    ca = CertificateAuthority(root / "pki")
    ca.ensure_server_cert(("127.0.0.1", "localhost"))
    return ca


def start_servers(root: Path, count: int = 1) -> list[DirectoryServer]:
    """`count` slapd with the same data and CA (for failover), started."""
    ca = make_ca(root)
    servers = []
    try:
        for i in range(count):
            server = DirectoryServer(root / f"slapd{i}", ca)
            server.prepare()
            server.start()
            servers.append(server)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def main() -> None:  # pragma: no cover - a manual check: python -m tests.directory_server
    root = Path(tempfile.mkdtemp(prefix="jiseki-slapd-"))
    try:
        (server,) = start_servers(root)
        print(server.url_ldap, server.url_ldaps, server.ca_file)
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    main()
