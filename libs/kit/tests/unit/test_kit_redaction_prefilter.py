"""`scrub_terms` looks for what a term's matches cannot lack before it compiles the term's
pattern. That check may only ever skip a pattern that would have matched nothing: here the
scrub is compared with running every pattern, over texts that hold the reporter's values in
the ways people type them (other case, other spacing and punctuation, leading zeros, "at"
and "dot"), beside near misses and characters where lower-casing and re's IGNORECASE part
ways ("ſ", the Kelvin sign, dotted and dotless i)."""

from __future__ import annotations

import contextlib
import re

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from aduan_kit.redaction import (
    HIDDEN,
    _term_pattern,
    identity_terms,
    scrub_terms,
)

IDENTITIES = [
    {"name": "Budi Santoso", "contact": "budi.santoso@contoh.id"},
    {"name": "Siti Kusuma", "contact": "+62 812-6365-3679"},
    {"name": "Rina", "phone": "0812 3456 7890", "nik": "3171234567890001"},
    {"name": "Kevin Sisi", "address": "Jl. Kenanga No. 12 RT 04/RW 07, Menteng"},
    {"name": "İlham Işık", "email": "ilham@example.co.id"},
    {"name": "Agus", "handle": "@agus_jkt", "contact": "(021) 555-1234"},
]

FRAGMENTS = [
    "Budi Santoso",
    "BUDI  santoso",
    "budi.santoso",
    "Budi.Santoso@Contoh.id",
    "budi [at] contoh [dot] id",
    "budi @ contoh . id",
    "Budi_Santoso",
    "Budiman",
    "siti kusuma",
    "SITI-KUSUMA",
    "0812 6365 3679",
    "+62 812 6365 3679",
    "62812-6365-3679",
    "(0812) 6365-3679",
    "0812.6365.3679",
    "081263653678",
    "Rina",
    "rinai",
    "08123456789",
    "0812-3456-7890",
    "3171 2345 6789 0001",
    "3171234567890001",
    "Kenanga 12 RT 4 RW 7",
    "jl kenanga no 12 rt 04 rw 07",
    "Kevin",
    "\u212aevin",
    "\u017fiti",
    "Si\u017fi",
    "\u0130lham",
    "ilham",
    "Ilham",
    "I\u015f\u0131k",
    "isik",
    "ilham@example.co.id",
    "ILHAM(at)example(dot)co(dot)id",
    "@agus_jkt",
    "agus_jkt",
    "AGUS",
    "(021) 555-1234",
    "021 5551234",
    "jalan rusak",
    "got mampet",
    "lampu mati",
    "42",
    "RT 04",
    "!",
    "\n",
    "\u0661\u0662",
    "😀",
]


def unchecked_scrub(text: str, terms: tuple[str, ...]) -> str:
    """What scrub_terms did before the checks: every term's pattern, in order, then
    libphonenumber's matcher over any text with a digit."""
    for term in terms:
        pattern = _term_pattern(term)
        if pattern is not None:
            text = re.sub(pattern, HIDDEN, text, flags=re.IGNORECASE)
    e164 = phonenumbers.PhoneNumberFormat.E164
    own = set()
    for term in terms:
        if "@" not in term and re.fullmatch(r"[\d \t+\-./()]+", term.strip()):
            with contextlib.suppress(phonenumbers.NumberParseException):
                own.add(phonenumbers.format_number(phonenumbers.parse(term, "ID"), e164))
    if not own or not any(ch.isdigit() for ch in text):
        return text
    matcher = phonenumbers.PhoneNumberMatcher(text, "ID", leniency=phonenumbers.Leniency.POSSIBLE)
    spans = [(m.start, m.end) for m in matcher if phonenumbers.format_number(m.number, e164) in own]
    for start, end in reversed(spans):
        text = text[:start] + HIDDEN + text[end:]
    return text


@settings(max_examples=600, deadline=None)
@given(
    identity=st.sampled_from(IDENTITIES),
    parts=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6),
    glue=st.sampled_from([" ", ", ", "-", "", " di "]),
)
def test_the_check_never_spares_a_value_a_pattern_would_hide(
    identity: dict[str, str], parts: list[str], glue: str
) -> None:
    terms = identity_terms(identity)
    text = glue.join(parts)
    assert scrub_terms(text, terms) == unchecked_scrub(text, terms)


def test_values_are_still_hidden_in_their_typed_forms() -> None:
    terms = identity_terms({"name": "Budi Santoso", "contact": "+62 812-6365-3679"})
    text = "Saya BUDI  santoso, WA 0812 6365 3679, tolong"
    assert scrub_terms(text, terms) == f"Saya {HIDDEN}, WA {HIDDEN}, tolong"
    # A text with none of the values comes back as it was.
    assert scrub_terms("Got mampet di Jl. Melati 3", terms) == "Got mampet di Jl. Melati 3"


def test_a_number_typed_in_other_digits_is_still_hidden() -> None:
    # The patterns take ASCII digits; libphonenumber's second look takes every script's.
    terms = identity_terms({"contact": "+62 812-6365-3679"})
    arabic = "hp \u0660\u0668\u0661\u0662 \u0666\u0663\u0666\u0665 \u0663\u0666\u0667\u0669 ya"
    wide = "hp \uff10\uff18\uff11\uff12\uff16\uff13\uff16\uff15\uff13\uff16\uff17\uff19 ya"
    assert scrub_terms(arabic, terms) == f"hp {HIDDEN} ya"
    assert scrub_terms(wide, terms) == f"hp {HIDDEN} ya"
