"""Sealing reporter identities with a per-reporter key (AES-256-GCM, from `cryptography`).

Deleting the key makes every sealed copy unreadable — in databases and in the Kafka log —
which is how erasure reaches the event log (crypto-shredding).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from aduan_contracts.values import SealedIdentity

__all__ = ["new_key", "open_identity", "seal_identity"]


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal_identity(identity: dict[str, Any], key_id: UUID, key: bytes) -> SealedIdentity:
    nonce = os.urandom(12)
    # The key id is bound as associated data so a ciphertext cannot be replayed under
    # another reporter's key.
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(identity).encode(), key_id.bytes)
    return SealedIdentity(
        key_id=key_id,
        nonce=base64.b64encode(nonce).decode(),
        ciphertext=base64.b64encode(ciphertext).decode(),
    )


def open_identity(sealed: SealedIdentity, key: bytes) -> dict[str, Any]:
    plain = AESGCM(key).decrypt(
        base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext), sealed.key_id.bytes
    )
    result: dict[str, Any] = json.loads(plain)
    return result
