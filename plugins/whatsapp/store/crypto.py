"""Secrets at rest: Airflow's Fernet (``[core] fernet_key``, comma-separated for rotation).

Using Airflow's own key means an operator rotates one key for connections and channels alike:
``MultiFernet`` decrypts with any listed key and encrypts with the first.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from whatsapp.store.errors import EncryptionUnavailableError

if TYPE_CHECKING:
    from airflow.models.crypto import FernetProtocol


def code_digest(code: str) -> str:
    """The key under which a single-use signup code is remembered: the code itself never is."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class SecretBox:
    """Encrypt and decrypt text with Airflow's Fernet; refuses to run without a real key."""

    def __init__(self, fernet: FernetProtocol | None = None) -> None:
        if fernet is None:
            from airflow.models.crypto import get_fernet

            fernet = get_fernet()
        if not fernet.is_encrypted:
            raise EncryptionUnavailableError(
                "Airflow [core] fernet_key is not set: the channel store will not keep secrets in plaintext"
            )
        self._fernet = fernet

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
