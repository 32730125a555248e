"""The slapd test server itself: both trees answer over LDAPS and StartTLS with the test CA."""

from __future__ import annotations

import ssl

import ldap3

from tests.directory_server import AD_SERVICE_DN, AD_STAFF, PASSWORD, SERVICE_PASSWORD, DirectoryServer


def _tls(server: DirectoryServer) -> ldap3.Tls:
    return ldap3.Tls(ca_certs_file=server.ca_file, validate=ssl.CERT_REQUIRED)


def test_ldaps_service_search_and_person_bind(directory: DirectoryServer) -> None:
    server = ldap3.Server("127.0.0.1", port=directory.port_ldaps, use_ssl=True, tls=_tls(directory))
    conn = ldap3.Connection(server, AD_SERVICE_DN, SERVICE_PASSWORD, auto_bind=True)
    conn.search(AD_STAFF, "(sAMAccountName=yamada)", attributes=["displayName", "memberOf", "department"])
    (entry,) = conn.entries
    assert entry.displayName.value == "山田 太郎"
    assert entry.department.value == "総務課"
    conn.unbind()
    person = ldap3.Connection(server, entry.entry_dn, PASSWORD)
    assert person.bind()
    person.unbind()


def test_starttls_and_restart(directory: DirectoryServer) -> None:
    server = ldap3.Server("127.0.0.1", port=directory.port_ldap, tls=_tls(directory))
    conn = ldap3.Connection(server, AD_SERVICE_DN, SERVICE_PASSWORD)
    conn.open()
    assert conn.start_tls()
    assert conn.bind()
    conn.unbind()
    directory.stop()
    directory.start()
    conn = ldap3.Connection(server, AD_SERVICE_DN, "wrong")
    assert not conn.bind()
