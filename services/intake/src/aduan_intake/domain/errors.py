"""The one error a channel adapter raises for input it cannot file."""

from __future__ import annotations

__all__ = ["InvalidField"]


class InvalidField(ValueError):
    """A named input field is missing or wrong; `reason` is safe to show the sender (it never
    repeats the field's value, which may be personal data)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
