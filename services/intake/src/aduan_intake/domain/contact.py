"""Reporter contacts: recognise a phone number or an e-mail address and write it one way,
so the same reporter always yields the same digest (and so reuses one key)."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

__all__ = ["Contact", "contact_digest", "normalize_contact"]

# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is the
# notifier's problem; here we only need a stable, plausible address.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,63}$")


@dataclass(frozen=True, slots=True)
class Contact:
    """A normalized contact: E.164 for phones, lower-case for e-mail addresses."""

    kind: Literal["phone", "email"]
    value: str


def normalize_contact(raw: str, default_region: str = "ID") -> Contact:
    """Raise `ValueError` when `raw` is neither a valid phone number nor an e-mail address."""
    text = raw.strip()
    if "@" in text:
        if len(text) > 254 or not _EMAIL.match(text):
            raise ValueError("not a valid e-mail address")
        # The local part is case-sensitive in theory, never in practice; folding it keeps
        # one reporter on one key.
        return Contact("email", text.lower())
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number or e-mail address") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return Contact("phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def contact_digest(pepper: str, reuse_key: str) -> bytes:
    """HMAC-SHA256 keyed by a secret pepper: a stolen table cannot be reversed by hashing
    every phone number in Indonesia. `reuse_key` is `ReporterIdentity.reuse_key(...)`."""
    return hmac.new(pepper.encode(), reuse_key.encode(), hashlib.sha256).digest()
