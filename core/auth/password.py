"""The single-user password: argon2id hashes (argon2-cffi), never the password itself."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost; salt is random per hash


class PasswordError(ValueError):
    """A new password or user name is not acceptable; the message says why."""


def check_new_password(password: str) -> str:
    """Return ``password`` when it is acceptable as a new password, else raise :class:`PasswordError`."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_LENGTH} characters")
    if password != password.strip():
        raise PasswordError("the password must not start or end with white space (a pasted newline?)")
    if len(password) > 1024:
        raise PasswordError("the password must have at most 1024 characters")
    return password


def check_user_name(name: str) -> str:
    """Return ``name`` when it is a valid user name (shown in the audit log), else raise :class:`PasswordError`."""
    if not isinstance(name, str) or not _USER_RE.match(name):
        raise PasswordError("the user name must be 1-64 letters, digits or . _ @ + - (starting with a letter or digit)")
    return name


def hash_password(password: str) -> str:
    """Return a salted argon2id hash of ``password`` (a PHC string: algorithm, cost, salt and hash)."""
    return _hasher.hash(check_new_password(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Return True when ``password`` matches ``stored_hash``; False on a mismatch or a damaged hash."""
    if not stored_hash or not isinstance(password, str):
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Return True when ``stored_hash`` was made with weaker parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except (InvalidHashError, ValueError):
        return True
