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

from aduan_contracts.values import SealedContent, SealedIdentity

__all__ = ["new_key", "open_content", "open_identity", "seal_content", "seal_identity"]


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


# A different associated-data prefix from identities: a sealed text cannot be passed off
# as an identity (or back) under the same key.
_CONTENT_AAD = b"aduan-content:"


def seal_content(title: str | None, text: str, key_id: UUID, key: bytes) -> SealedContent:
    """A report's title and text as typed, sealed with the reporter's key (UTF-8 JSON, not
    ASCII-escaped, so 10,000 characters fit the contract's limit)."""
    nonce = os.urandom(12)
    plain = json.dumps({"title": title, "text": text}, ensure_ascii=False).encode()
    ciphertext = AESGCM(key).encrypt(nonce, plain, _CONTENT_AAD + key_id.bytes)
    return SealedContent(
        key_id=key_id,
        nonce=base64.b64encode(nonce).decode(),
        ciphertext=base64.b64encode(ciphertext).decode(),
    )


def open_content(sealed: SealedIdentity, key: bytes) -> tuple[str | None, str]:
    """(title, text) of `seal_content`; raises `cryptography`'s InvalidTag for a wrong or
    destroyed key."""
    plain = AESGCM(key).decrypt(
        base64.b64decode(sealed.nonce),
        base64.b64decode(sealed.ciphertext),
        _CONTENT_AAD + sealed.key_id.bytes,
    )
    data = json.loads(plain)
    title = data.get("title")
    return (title if isinstance(title, str) else None), str(data["text"])
