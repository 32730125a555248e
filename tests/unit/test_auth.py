"""Pure parts of authentication: password policy, one-time codes, throttling, CSV, tokens, CA passphrase."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jiseki.gateway.auth import totp
from jiseki.gateway.auth.accounts import temporary_password, valid_login_id
from jiseki.gateway.auth.passwords import PasswordPolicy, hash_password, verify_password
from jiseki.gateway.auth.throttle import AddressThrottle
from jiseki.gateway.auth.users_csv import decode_csv, parse_staff_csv
from jiseki.gateway.enrollment import EnrollmentError, make_token, parse_token
from jiseki.gateway.pki import CertificateAuthority, PKIError
from jiseki.gateway.textclean import has_controls


def test_policy_refuses_short_plain_common_and_own_id() -> None:
    policy = PasswordPolicy(min_length=12, min_classes=3)
    msgids = lambda pw, uid="": {p.msgid for p in policy.problems(pw, uid)}  # noqa: E731
    assert "Use at least {n} characters." in msgids("Ab1!")
    assert "This password is too common." in msgids("Password123!")
    assert "This password is too common." in msgids("qwertyuiop")
    assert any("kinds of characters" in m for m in msgids("alllowercaseletters"))
    assert "The password must not contain your login ID." in msgids("k0001-Strong-Pass!", "k0001")
    assert msgids("Tabi-no-Sora-2026") == set()


def test_argon2id_hash_and_verify() -> None:
    h = hash_password("Tabi-no-Sora-2026")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "Tabi-no-Sora-2026")
    assert not verify_password(h, "tabi-no-sora-2026")
    assert not verify_password("not a hash", "x")
    assert not verify_password(h, "x" * 10_000)  # over the length limit: refused without hashing


def test_temporary_passwords_meet_the_default_policy() -> None:
    for _ in range(50):
        assert PasswordPolicy().problems(temporary_password()) == []


def test_temporary_passwords_never_start_with_a_symbol() -> None:
    # Excel reads a cell starting with = + - @ as a formula (#NAME? in the initial-passwords CSV).
    classes = ("abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "#%+-=?@")
    firsts = set()
    for _ in range(2000):
        pw = temporary_password()
        assert len(pw) == 16 and pw[0].isascii() and pw[0].isalnum(), pw
        assert all(any(c in cls for c in pw) for cls in classes), pw
        firsts.add(pw[0])
    assert len(firsts) > 40  # the first character is still drawn from all letters and digits


def test_totp_accepts_once_and_within_the_window() -> None:
    secret = totp.new_secret()
    now = 1_800_000_000.0
    code = totp.code_at(secret, now)
    step = totp.verify(secret, code, 0, now)
    assert step == int(now // 30)
    assert totp.verify(secret, code, step, now) is None  # replay
    assert totp.verify(secret, totp.code_at(secret, now - 30), 0, now) is not None  # clock drift
    assert totp.verify(secret, totp.code_at(secret, now - 90), 0, now) is None  # too old
    assert totp.verify(secret, "12345", 0, now) is None
    assert totp.verify(secret, "abcdef", 0, now) is None


def test_secret_box_round_trip_and_wrong_key(tmp_path: Path) -> None:
    box = totp.SecretBox(tmp_path / "k1")
    sealed = box.seal("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DP" not in sealed and box.open(sealed) == "JBSWY3DPEHPK3PXP"
    assert oct((tmp_path / "k1").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        totp.SecretBox(tmp_path / "k2").open(sealed)


def test_address_throttle_window() -> None:
    now = [0.0]
    throttle = AddressThrottle(3, 10.0, clock=lambda: now[0])
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1") and not throttle.blocked("10.0.0.2")
    now[0] = 10.5
    assert not throttle.blocked("10.0.0.1")


def test_csv_accepts_japanese_headers_and_shift_jis() -> None:
    text = "職員ID,氏名,所属,権限\nk1,山田,総務課,管理者\n\nk2,鈴木,,\n"
    rows, errors = parse_staff_csv(decode_csv(text.encode("cp932")))
    assert errors == []
    # Empty cells are None: "as it is" for an update, the defaults (staff, no department) for a creation.
    assert [(r.login_id, r.role, r.department) for r in rows] == [("k1", "admin", "総務課"), ("k2", None, None)]


def test_csv_errors_name_the_line() -> None:
    rows, errors = parse_staff_csv("login_id,display_name,role\nok1,A,staff\nbad id,B,staff\nok2,C,boss\n")
    assert [r.login_id for r in rows] == ["ok1"]
    assert str(errors[0]).startswith("line 3: The login ID “bad id” is not valid")
    assert str(errors[1]).startswith("line 4: The role “boss” is unknown")
    assert errors[1].record == ("ok2", "C", "boss")  # the cells, for the console's preview
    assert parse_staff_csv("name,dept\nx,y\n")[1][0].message.startswith("Missing column(s): login_id")
    with pytest.raises(ValueError, match="neither UTF-8 nor Shift_JIS"):
        decode_csv(b"\xff\xfe\xfa\x80\x81")


def test_csv_refuses_control_characters_in_names_and_departments() -> None:
    text = (
        'login_id,display_name,department\nk1,"山田\x01",総務課\nk2,鈴木,"=総務\x1b課"\nk3,"佐\t藤",x\nk4,田中,財政課\n'
    )
    rows, errors = parse_staff_csv(text)
    assert [r.login_id for r in rows] == ["k4"]
    assert [e.line for e in errors] == [2, 3, 4]
    assert all("control characters" in e.message for e in errors)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_csv_parser_never_crashes(text: str) -> None:
    rows, errors = parse_staff_csv(text)
    assert all(valid_login_id(r.login_id) for r in rows)
    assert all(e.line >= 1 for e in errors)
    assert not any(has_controls(r.display_name) or has_controls(r.department) for r in rows)


def test_enrollment_token_round_trip_and_damage() -> None:
    pin = "ab" * 32
    token, token_id = make_token(pin)
    parsed = parse_token(token)
    assert parsed.ca_pin == pin and len(token_id) == 64
    for bad in ("", "jsk1.abc", token.replace("jsk1", "jsk2"), token[:-3], token + "x" * 300):
        with pytest.raises(EnrollmentError):
            parse_token(bad)


@given(st.text(max_size=300))
def test_token_parser_raises_only_enrollment_errors(text: str) -> None:
    try:
        parse_token(text)
    except EnrollmentError:
        pass


def test_ca_passphrase_encrypts_keys(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "pki", b"correct horse")
    assert b"ENCRYPTED" in (tmp_path / "pki" / "issuing-ca.key").read_bytes()
    assert ca.issue_client_cert("agent", "x", dt.timedelta(days=1)).fingerprint
    with pytest.raises(PKIError, match="JISEKI_CA_PASSPHRASE"):
        CertificateAuthority(tmp_path / "pki")
    with pytest.raises(PKIError, match="wrong CA passphrase"):
        CertificateAuthority(tmp_path / "pki", b"wrong")
    assert CertificateAuthority(tmp_path / "pki", b"correct horse").root_fingerprint == ca.root_fingerprint


def test_csr_signing_refuses_bad_input(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    ca = CertificateAuthority(tmp_path / "pki")
    with pytest.raises(PKIError, match="not a certificate signing request"):
        ca.sign_csr("terminal", "t1", b"hello", dt.timedelta(days=1))
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(weak, hashes.SHA256())
    with pytest.raises(PKIError, match="at least 2048 bits"):
        ca.sign_csr("terminal", "t1", csr.public_bytes(serialization.Encoding.PEM), dt.timedelta(days=1))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "admin")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    cert = ca.sign_csr("terminal", "t1", csr.public_bytes(serialization.Encoding.DER), dt.timedelta(days=1))
    assert cert.subject.rfc4514_string() == "CN=terminal:t1,O=jiseki"  # the CSR's subject is ignored
