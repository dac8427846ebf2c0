"""The gateway's rules as plain Python: redaction, labels, pseudonyms, role-based views and
the public projection. No I/O here, so every privacy rule is unit-tested directly."""

__all__: list[str] = []
