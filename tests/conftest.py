"""Shared test helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.directory_fixtures"]  # `directory`, `directory_pair`: real slapd (issue 18)

# Property tests check properties, not speed: on a cold, loaded machine (CI: 2 shared cores) the
# first inputs can take over a second to make, which failed a run with FailedHealthCheck (too_slow),
# and a test body can exceed the 200 ms deadline. "ci", loaded by default, drops both timing checks;
# JISEKI_HYPOTHESIS_PROFILE=dev brings Hypothesis's own defaults back to look for slow tests.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev")
settings.load_profile(os.environ.get("JISEKI_HYPOTHESIS_PROFILE", "ci"))


async def splice(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    """Copy bytes both ways between two connections until both ends close (a test's TCP relay)."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()

    await asyncio.gather(pump(a_reader, b_writer), pump(b_reader, a_writer))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: each socket stays bound until all are chosen (free_port() twice can
    give the same port, and then one server quietly answers for both)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def expired_client_cert(ca, out, kind: str, ident: str):  # type: ignore[no-untyped-def]
    """(cert path, key path, certificate): a client certificate of `ca` whose validity ended yesterday."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from jiseki.gateway.pki import cert_pem, key_pem, write_private

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{kind}:{ident}")]))
        .issuer_name(ca.issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"urn:jiseki:{kind}:{ident}")]), critical=False
        )
        .sign(ca._issuing_key, hashes.SHA256())
    )
    write_private(out / f"{ident}.crt", cert_pem(cert) + cert_pem(ca.issuing_cert))
    write_private(out / f"{ident}.key", key_pem(key))
    return out / f"{ident}.crt", out / f"{ident}.key", cert


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A private PostgreSQL server for this test run (skipped when not installed, except in CI)."""
    from tests.pg import PostgresServer

    try:
        server = PostgresServer()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    yield server
    server.stop()


def engine_under_test() -> str:
    """JISEKI_TEST_DB=postgresql runs the database-backed tests on PostgreSQL instead of SQLite."""
    return os.environ.get("JISEKI_TEST_DB", "sqlite")


# argon2 at the product's parameters costs ~0.2 CPU-s per hash or check; the suite makes thousands
# (every gateway fixture creates accounts, every test logs in). Hashes made here use the cheapest
# argon2id parameters; what is tested (which hash, when, off the event loop) does not change.
# JISEKI_TEST_REAL_ARGON2=1 keeps the product's parameters.
if not os.environ.get("JISEKI_TEST_REAL_ARGON2"):
    from argon2 import PasswordHasher

    from jiseki.gateway.auth import passwords

    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
