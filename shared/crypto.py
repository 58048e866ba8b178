"""Secrets at rest: webhook signing secrets and subscriber secrets, encrypted.

Paceline must know these secrets in plaintext to sign or verify HMACs, so they are
encrypted (Fernet: AES-128-CBC + HMAC-SHA256, from the ``cryptography`` library), not
hashed. The key is derived from ``PACELINE_SECRET_KEY``; in development without one, a
random key is created once in the data directory (``secret.key``, mode 0600).
API keys, which Paceline only has to recognise, are hashed instead (shared/auth.py).

Rotation: list the old key after the new one in ``PACELINE_SECRET_KEY`` separated by
commas; values encrypted with any listed key are readable, new ones use the first.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from paceline.shared.settings import Settings

_PREFIX = "enc:v1:"


class SecretBox:
    """Encrypts and decrypts short secrets with the process's key(s)."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one secret key is needed")
        self._fernet = MultiFernet([Fernet(_derive(k)) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        """The stored form of a secret."""
        return _PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, stored: str) -> str:
        """The plaintext of a stored secret; ValueError if no listed key opens it."""
        if not stored.startswith(_PREFIX):
            raise ValueError("not an encrypted secret")
        try:
            return self._fernet.decrypt(stored.removeprefix(_PREFIX).encode()).decode()
        except InvalidToken:
            raise ValueError("the secret cannot be decrypted with the configured keys") from None


def _derive(key: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(b"paceline-secrets:" + key.encode()).digest())


def secret_box(settings: Settings) -> SecretBox:
    """The box for this process: PACELINE_SECRET_KEY, or a development key on disk."""
    if settings.secret_key is not None:
        keys = [k.strip() for k in settings.secret_key.get_secret_value().split(",") if k.strip()]
        return SecretBox(keys)
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        # Processes sharing a data directory may start together: the key is written to a
        # private file and linked into place (atomic, and refused if one is there already),
        # so no process ever reads a half-written key or ends up with its own.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret.key.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return SecretBox([path.read_text().strip()])
