"""Password hashing with Argon2 (pwdlib): the only place that knows the algorithm."""

from __future__ import annotations

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


class Argon2Passwords:
    def __init__(self) -> None:
        self._hash = PasswordHash((Argon2Hasher(),))
        # Verified against when the e-mail is unknown, so that a miss takes as long as a wrong password.
        self._decoy = self._hash.hash("decoy password that no one has")

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str | None) -> bool:
        return bool(self._hash.verify(password, password_hash or self._decoy))
