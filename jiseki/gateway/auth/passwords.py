"""Password policy and argon2id hashing.

Policy problems are returned as catalogue message ids (with values) so the page can show them in
the user's language.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_LENGTH = 256  # argon2 would hash more, but nobody types more; bounds the work per attempt

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory defaults
# Temporary passwords made by a CSV import: 16 random characters from 63 symbols (~95 bits). A slow
# hash protects guessable, human-chosen passwords from an offline search; against 2^95 candidates
# even an unsalted fast hash would hold, so a light argon2id (1 pass, 8 MiB, ~5 ms instead of
# ~100 ms) loses nothing and lets 4,300 accounts be created in seconds instead of minutes. The
# password must be changed at the first login, where the full-cost hash replaces it; verification
# reads the parameters from the hash itself.
_temporary_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Hash new passwords with other argon2 parameters. The test suite uses cheap ones (thousands of
    hashes); the product never calls this. Stored hashes carry their own parameters and still verify."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class PolicyProblem:
    msgid: str
    value: int | None = None


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    min_classes: int = 3

    def rules(self) -> list[PolicyProblem]:
        """What a new password must be, for the page to show before the user types (the same checks
        as `problems`, plus the page's own: different from the current password)."""
        return [
            PolicyProblem("At least {n} characters", self.min_length),
            PolicyProblem(
                "At least {n} kinds of characters: lower case, upper case, digits, symbols", self.min_classes
            ),
            PolicyProblem("Not a commonly used password"),
            PolicyProblem("Not containing your login ID"),
            PolicyProblem("Different from your current password"),
        ]

    def problems(self, password: str, user_id: str = "") -> list[PolicyProblem]:
        found = []
        if len(password) < self.min_length:
            found.append(PolicyProblem("Use at least {n} characters.", self.min_length))
        if len(password) > MAX_PASSWORD_LENGTH:
            found.append(PolicyProblem("Use at most {n} characters.", MAX_PASSWORD_LENGTH))
        classes = sum(
            (
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password),
            )
        )
        if classes < self.min_classes:
            found.append(
                PolicyProblem(
                    "Mix at least {n} kinds of characters: lower case, upper case, digits, symbols.", self.min_classes
                )
            )
        lowered = password.lower()
        if lowered in common_passwords() or lowered.rstrip("0123456789!") in common_passwords():
            found.append(PolicyProblem("This password is too common."))
        if user_id and user_id.lower() in lowered:
            found.append(PolicyProblem("The password must not contain your login ID."))
        return found


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_temporary(password: str) -> str:
    """Only for generated temporary passwords (see `_temporary_hasher`), never for chosen ones."""
    return _temporary_hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_off_loop(stored_hash: str, password: str) -> bool:
    """verify_password in a worker thread: argon2 costs ~0.1-0.2 s of CPU, which on the event loop
    would stall every session this node relays, once per login."""
    return await asyncio.to_thread(verify_password, stored_hash, password)


async def hash_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def dummy_hash() -> str:
    """A hash of a password nobody has: verifying against it costs the same as against a real account,
    so the response time does not reveal whether a login ID exists. Made once, on first use."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("jiseki-dummy-password-never-used")
    return _dummy_hash
