"""Kemendagri area codes: one format everywhere, dotted (``31.71.01.1001``)."""

from __future__ import annotations

import re
from typing import Literal

Level = Literal["province", "regency", "district", "village"]

LEVELS: tuple[Level, ...] = ("province", "regency", "district", "village")

# Digits per segment: province, regency (kota/kabupaten), district (kecamatan), village
# (kelurahan/desa).
_WIDTHS = (2, 2, 2, 4)
_UNDOTTED_LENGTHS = {2: 1, 4: 2, 6: 3, 10: 4}
_SEPARATORS = re.compile(r"[\s.\-/]+")


def normalize_code(code: str) -> str | None:
    """The dotted Kemendagri code, or None when ``code`` does not have a code's shape.

    Accepts the dotted form ("31.71.01.1001"), the undotted one of NIK and BPS-style tables
    ("3171011001") and dashes or spaces as separators ("31 71 01 1001"). Says nothing about
    whether such an area exists: that is :func:`aduan_areas.get`.
    """
    text = code.strip()
    if not text:
        return None
    if text.isdigit():
        depth = _UNDOTTED_LENGTHS.get(len(text))
        if depth is None:
            return None
        parts: list[str] = []
        start = 0
        for width in _WIDTHS[:depth]:
            parts.append(text[start : start + width])
            start += width
        return ".".join(parts)
    parts = [p for p in _SEPARATORS.split(text) if p]
    if not 1 <= len(parts) <= 4:
        return None
    for part, width in zip(parts, _WIDTHS, strict=False):
        if len(part) != width or not part.isdigit():
            return None
    return ".".join(parts)


def level_of(code: str) -> Level:
    """The level of a dotted code (which must be normalised)."""
    return LEVELS[code.count(".")]


def parent_of(code: str) -> str | None:
    """The parent's dotted code; None for a province."""
    cut = code.rfind(".")
    return code[:cut] if cut > 0 else None


def is_within(code: str, scope: str | None) -> bool:
    """Whether ``code`` is ``scope`` or lies under it; every code is within ``None``."""
    return scope is None or code == scope or code.startswith(scope + ".")
