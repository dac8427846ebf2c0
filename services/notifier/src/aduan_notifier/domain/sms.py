"""SMS length rules: GSM-7 (160 characters, 153 per part when concatenated) or, as soon as
one character is outside GSM 03.38, UCS-2 (70, then 67 per part). A reporter pays, and an
operator may drop, every extra part, so templates are written to stay in GSM-7."""

from __future__ import annotations

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "is_gsm7", "sms_segments"]

# GSM 03.38 default alphabet (without the escape code itself).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (escape + character).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_GSM7_SINGLE, _GSM7_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _parts(units: list[int], single: int, part: int) -> int:
    """Segments for a message of `units` (cost of each character, never split)."""
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for cost in units:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return segments


def sms_segments(text: str) -> int:
    """How many SMS parts `text` needs (0 for an empty text: nothing is sent).

    GSM-7 extension characters take two septets and are not split across parts; in UCS-2
    a character outside the Basic Multilingual Plane (emoji) takes two code units and is not
    split either, as handsets and gateways do.
    """
    if not text:
        return 0
    if is_gsm7(text):
        return _parts([2 if c in GSM7_EXTENSION else 1 for c in text], _GSM7_SINGLE, _GSM7_PART)
    return _parts([2 if ord(c) > 0xFFFF else 1 for c in text], _UCS2_SINGLE, _UCS2_PART)
