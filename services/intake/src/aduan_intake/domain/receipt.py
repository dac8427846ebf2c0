"""Receipt codes: what a reporter gets back and reads aloud to a call centre.

`ADU-XXXX-XXXX` from Crockford's base32 alphabet (no I, L, O, U: nothing to confuse with
1, 0 or V, and no accidental words). 40 random bits from `secrets`: not guessable, so a code
is safe to use for tracking one's own report; the database's unique constraint catches the
rare collision and filing retries with a fresh code.
"""

from __future__ import annotations

import secrets

__all__ = ["RECEIPT_ALPHABET", "new_receipt_code"]

RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_receipt_code() -> str:
    chars = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"ADU-{chars[:4]}-{chars[4:]}"
