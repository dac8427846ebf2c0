"""What issue 18 changed in the scrubber's cost must not change a single character it
returns. A reporter's values made ready once (`prepare_terms`) and reused for several texts
scrub each exactly as the values given afresh would; the public level made from the officer
level (`public_from_officer`) is the public scrub; the plate pattern's quick lookahead
finds exactly what the pattern without it found. Each is compared here with the way it was
computed before, over generated texts."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from aduan_kit import redaction
from aduan_kit.redaction import (
    HIDDEN,
    identity_terms,
    prepare_terms,
    public_from_officer,
    scrub_erased,
    scrub_officer_text,
    scrub_text,
)

from .test_kit_redaction_prefilter import FRAGMENTS, IDENTITIES, unchecked_scrub

# The plate pattern as it was before the lookahead (issue 18): the reference.
_PLATE_BEFORE = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(redaction._PLATE_REGIONS) + r")[ \-]?\d{1,4}[ \-]?[A-Z]{1,3}"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)

PLACES = [
    "B 1234 XYZ",
    "b1234xyz",
    "AB 12 CD",
    "XB 1234 ABC",
    "xL7-W 8T/N41RZ",
    "Jl. Kenanga No. 12",
    "Gang Mawar nomor 3A",
    "RT 04/RW 07",
    "rt.5 rw.2",
    "\u017f 12 AB",  # long s: IGNORECASE's "S"
    "\u212a 99 Z",  # Kelvin sign: IGNORECASE's "K"
    "DK-1-A",
    "12-05-2024",
    "Rp 1.500.000",
]


@settings(max_examples=400, deadline=None)
@given(
    identity=st.sampled_from(IDENTITIES),
    texts=st.lists(
        st.lists(st.sampled_from(FRAGMENTS + PLACES), min_size=0, max_size=6).map(" ".join),
        min_size=1,
        max_size=4,
    ),
)
def test_values_made_ready_once_scrub_every_text_as_before(
    identity: dict[str, str], texts: list[str]
) -> None:
    terms = identity_terms(identity)
    prepared = prepare_terms(terms)
    for text in texts:  # one preparation, several texts (a title and its text, two levels)
        assert redaction.scrub_terms(text, prepared) == unchecked_scrub(text, terms)
        assert scrub_officer_text(text, prepared) == scrub_officer_text(text, terms)


@settings(max_examples=400, deadline=None)
@given(
    identity=st.sampled_from(IDENTITIES),
    parts=st.lists(st.sampled_from(FRAGMENTS + PLACES), min_size=1, max_size=6),
)
def test_the_public_level_made_from_the_officer_level_is_the_public_scrub(
    identity: dict[str, str], parts: list[str]
) -> None:
    terms = identity_terms(identity)
    text = " ".join(parts)
    officer = scrub_officer_text(text, terms)
    # As `scrub_text` was written before: the erased level, then house numbers and RT/RW.
    before = redaction._RT_RW.sub(
        HIDDEN, redaction._HOUSE.sub(HIDDEN, _PLATE_BEFORE.sub(HIDDEN, officer))
    )
    assert public_from_officer(officer) == before == scrub_text(text, terms)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ABDEFGHKLMNPRSTWZabkx0123456789 -./,\n\u017f\u212a\u00e9", max_size=30))
def test_the_plate_lookahead_finds_what_the_pattern_found_without_it(text: str) -> None:
    assert redaction._PLATE.sub(HIDDEN, text) == _PLATE_BEFORE.sub(HIDDEN, text)
    assert scrub_erased(text) == _PLATE_BEFORE.sub(HIDDEN, scrub_officer_text(text))


def test_a_plate_and_a_house_are_public_level_only() -> None:
    terms = identity_terms({"name": "Budi Santoso", "contact": "+62 812-6365-3679"})
    text = "Budi parkir B 1234 XYZ di Jl. Kenanga No. 12, hp 0812 6365 3679"
    officer = scrub_officer_text(text, prepare_terms(terms))
    assert officer == f"{HIDDEN} parkir B 1234 XYZ di Jl. Kenanga No. 12, hp {HIDDEN}"
    assert public_from_officer(officer) == f"{HIDDEN} parkir {HIDDEN} di {HIDDEN}, hp {HIDDEN}"


def test_prepared_values_never_show_in_a_log_line_or_a_traceback() -> None:
    prepared = prepare_terms(identity_terms({"name": "Budi Santoso", "phone": "0812 6365 3679"}))
    shown = f"{prepared!r} {prepared!s}"
    assert "Budi" not in shown and "6365" not in shown and "values" in shown
