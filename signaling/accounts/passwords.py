"""Password hashing with argon2id (argon2-cffi's tuned defaults)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from signaling.common.errors import InvalidInput

MIN_LENGTH = 10
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against when the username is unknown, so timing does not reveal which
    usernames exist."""
    return _hasher.hash("standby-timing-equaliser")


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_LENGTH} characters, got {len(password)}"
        )
    if len(password) > 256:
        raise InvalidInput("a password may have at most 256 characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
