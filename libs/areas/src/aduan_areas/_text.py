"""Folding of names and free text for matching: case, accents, punctuation, spacing."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """Lower case, accents off, every run of punctuation or space as one space.

    "Kel. Kebon  Jeruk" -> "kel kebon jeruk"; "Pal-Merah" -> "pal merah".
    """
    if text.isascii():
        plain = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    # An apostrophe joins ("Ra'as" -> "raas"), as people type it either way.
    plain = plain.replace("'", "").replace("’", "").replace("`", "")
    return _NOT_WORD.sub(" ", plain).strip()


def squash(text: str) -> str:
    """:func:`fold` without spaces: "Pal Merah", "Palmerah" and "PALMERAH" are one key."""
    return fold(text).replace(" ", "")


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    folded = fold(text)
    return folded.split(" ") if folded else []
