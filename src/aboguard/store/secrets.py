"""Encryption at rest for IBANs and gateway tokens (DESIGN.md rule 9), with Fernet from ``cryptography``.

The key is a Fernet key (32 random bytes, URL-safe base64). ``ABOGUARD_SECRET_KEY`` may hold several
keys separated by commas: the first encrypts, all of them decrypt (key rotation). Without the variable,
bootstrap uses ``<data_dir>/secret.key``, created with mode 0600 the first time a secret is stored.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from aboguard.errors import SecretsUnavailable

KEY_FILE_NAME = "secret.key"


class SecretBox(Protocol):
    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, ciphertext: str) -> str: ...


class Secrets:
    """Encrypts and decrypts short texts. ``key``: one Fernet key, or several separated by commas."""

    def __init__(self, key: str | bytes, *, source: str = "the secret key") -> None:
        text = key.decode("ascii") if isinstance(key, bytes) else key
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise SecretsUnavailable(f"{source} is empty; {generate_hint()}")
        try:
            self._fernet = MultiFernet([Fernet(part) for part in parts])
        except (ValueError, TypeError):
            raise SecretsUnavailable(f"{source} is not a valid key (32 bytes, URL-safe base64); "
                                     f"{generate_hint()}") from None
        self._source = source

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretsUnavailable(f"stored secrets cannot be decrypted with {self._source}: it is not the "
                                     f"key they were encrypted with") from None

    def __repr__(self) -> str:
        return f"Secrets(<{self._source}>)"


class DeferredSecrets:
    """Loads the real :class:`Secrets` on first use, so commands that never touch a secret need no key."""

    def __init__(self, load: Callable[[], Secrets]) -> None:
        self._load = load
        self._secrets: Secrets | None = None

    def _get(self) -> Secrets:
        if self._secrets is None:
            self._secrets = self._load()
        return self._secrets

    def encrypt(self, plaintext: str) -> str:
        return self._get().encrypt(plaintext)

    def decrypt(self, ciphertext: str) -> str:
        return self._get().decrypt(ciphertext)


class NoSecrets:
    """Stands in when no key is configured: every use raises :class:`SecretsUnavailable` with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def encrypt(self, plaintext: str) -> str:
        raise SecretsUnavailable(self.reason)

    def decrypt(self, ciphertext: str) -> str:
        raise SecretsUnavailable(self.reason)


def generate_hint() -> str:
    return ("make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'")


def key_file_secrets(path: Path) -> Secrets:
    """The key in ``path``, which is created (mode 0600, in a new directory if need be) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(Secrets.generate_key() + "\n")
    try:
        key = path.read_text(encoding="ascii")
    except OSError as exc:
        raise SecretsUnavailable(f"cannot read the secret key file {path}: {exc.strerror}") from None
    return Secrets(key, source=f"the key in {path}")
