"""Scrubbing personal data out of complaint text (SPEC "Privacy by default" rule 8 and
Revision 2, "Who sees what, clarified").

Three levels, each a superset of the one before:

- `scrub_officer_text`: what every officer role reads. The reporter's own values (every
  name, phone, e-mail, NIK, home address and handle they gave, in whatever format they are
  typed) and the usual patterns (phone numbers, e-mail addresses, NIKs). Plates stay: a
  parking officer needs the plate of the car on the pavement.
- `scrub_erased`: the stored text after the reporter asked for erasure: also plates (the
  reporter's own car may be among them, and nobody can tell which one any more).
- `scrub_text` (public): also plates and street addresses with a house number or RT/RW.

Shared by intake (the scrubbed text next to the sealed original in `ReportSubmitted`) and
the privacy gateway (stored officer and public text), so the two cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

__all__ = [
    "HIDDEN",
    "IDENTITY_FIELDS",
    "Terms",
    "identity_terms",
    "prepare_terms",
    "public_from_officer",
    "scrub_erased",
    "scrub_officer_text",
    "scrub_terms",
    "scrub_text",
]

HIDDEN = "[disembunyikan]"

# The keys of a sealed identity whose values are the reporter's own personal data.
IDENTITY_FIELDS = ("name", "contact", "contacts", "phone", "email", "nik", "address", "handle")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

# NIK (Nomor Induk Kependudukan): exactly 16 digits, possibly grouped by 4.
_NIK = re.compile(r"(?<!\d)\d{4}[ .\-]?\d{4}[ .\-]?\d{4}[ .\-]?\d{4}(?!\d)")

# A run of digits with the separators people type into phone numbers ("+62 812-3456-7890",
# "(021) 555 1234", "0812.3456.7890"). Whether it is a phone number is decided by
# `_phone` (digit count, not a date/amount/time): a regex alone either misses formats or
# eats house numbers. Separators are spaces/tabs only, never newlines, so two lines of
# numbers are judged separately.
_DIGIT_RUN = re.compile(r"(?<![\w+])(?:\+|\b00)?\(?\d[\d \t().\-]*\d\)?(?![\w])")
_MIN_PHONE_DIGITS = 8  # shorter runs are house numbers, RT/RW, amounts, years
_NOT_A_PHONE = re.compile(
    r"""
      \d{1,2}[.\-]\d{1,2}[.\-]\d{4}              # date 12-05-2024
    | \d{4}[.\-]\d{1,2}[.\-]\d{1,2}              # date 2024-05-12
    | \d{1,3}(?:\.\d{3}){2,}                     # rupiah amount 1.500.000
    | (?:19|20)\d{2}[ \t]*-[ \t]*(?:19|20)\d{2}  # year range 2023-2024
    | \d{1,2}[.:]\d{2}[ \t]*-[ \t]*\d{1,2}[.:]\d{2}  # opening hours 08.00 - 17.00
    """,
    re.VERBOSE,
)

# Indonesian plates: a region code, 1-4 digits, a 1-3 letter suffix ("B 1234 XYZ",
# "B1234XYZ", "AB 12 CD"). Only real region codes are accepted so that address fragments
# such as "RT 05 RW" are not taken for plates.
_PLATE_REGIONS = (
    *("AA", "AB", "AD", "AE", "AG", "BA", "BB", "BD", "BE", "BG", "BH", "BK", "BL", "BM"),
    *("BN", "BP", "CC", "CD", "DA", "DB", "DC", "DD", "DE", "DG", "DH", "DK", "DL", "DM"),
    *("DN", "DP", "DR", "DS", "DT", "DW", "EA", "EB", "ED", "KB", "KH", "KT", "KU", "PA"),
    *("PB", "PG", "PT", "PY", "RI"),
    *("A", "B", "D", "E", "F", "G", "H", "K", "L", "M", "N", "P", "R", "S", "T", "W", "Z"),
)
_PLATE = re.compile(
    # The lookahead only says what any plate starts with (one or two letters, then a
    # digit): it turns most positions away before the 65 region codes are tried one by
    # one, a quarter of the pattern's cost on complaint text (issue 18), same matches.
    r"(?<![A-Za-z0-9])(?=[A-Za-z]{1,2}[ \-]?\d)"
    r"(?:" + "|".join(_PLATE_REGIONS) + r")[ \-]?\d{1,4}[ \-]?[A-Z]{1,3}"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# Street addresses precise enough to find a house: a street (Jl./Jln./Jalan/Gg./Gang/
# Komplek/Perumahan/Blok) followed within a few words by a house number ("No. 12",
# "Nomor 12A", or a bare number right after the street's name), and RT/RW pairs or single
# RT/RW numbers. "jalan" in lower case is the ordinary word for road ("jalan berlubang"):
# only the capitalised word or an abbreviation counts as a street, and a street without a
# house number (where the pothole is) stays.
_NAME_WORDS = r"[ \t]*(?:[A-Za-z'.\-]+[ \t]+){0,4}?"
_HOUSE_NUMBER = r"\d{1,4}[A-Za-z]?\b(?![.:,]\d)"
_HOUSE = re.compile(
    # "Jl. Kenanga No. 12", "Gang Mawar nomor 3A", "Perumahan Indah Blok C No 7"
    r"(?:\b(?i:jl|jln|gg|komplek|kompleks|perum|perumahan|blok)\b\.?|\bJalan\b|\bGang\b)"
    + _NAME_WORDS
    + r"(?:(?i:no|nomor|nomer)\b\.?[ \t]*|\#[ \t]*)"
    + _HOUSE_NUMBER
    # "Jl. Kenanga 12": a bare number right after an abbreviated street's name ("Jalan
    # berlubang 30 cm" is a sentence, not an address, so not after the full word).
    + r"|\b(?i:jl|jln|gg)\b\.?"
    + _NAME_WORDS
    + _HOUSE_NUMBER
)
_RT_RW = re.compile(
    r"\b(?i:rt|rw)\b\.?[ \t]*0*\d{1,3}"
    r"(?:[ \t]*[/,\-]?[ \t]*\b(?i:rt|rw)\b\.?[ \t]*0*\d{1,3})?\b"
)


def _phone(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = sum(ch.isdigit() for ch in candidate)
    # No upper bound: a run of more than 15 digits is two numbers typed side by side or an
    # ID number; hiding it errs on the reporter's side.
    if digits < _MIN_PHONE_DIGITS or _NOT_A_PHONE.fullmatch(candidate.strip("()")):
        return candidate
    return HIDDEN


_MIN_TERM = 3  # shorter name parts ("Hj", "S") are also ordinary words


def _values(identity: Mapping[str, Any], key: str) -> list[str]:
    value = identity.get(key)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    return []


def identity_terms(identity: Mapping[str, Any]) -> tuple[str, ...]:
    """What of a reporter's opened identity to hide from text: every value they gave (the
    full name and each part of it, contacts, e-mail, NIK, home address and each of its
    comma-separated parts that is more than a place name, the channel handle), longest
    first, so a full name goes as one."""
    terms: set[str] = set()
    for name in _values(identity, "name"):
        if name.strip():
            terms.add(name.strip())
            terms.update(part for part in re.split(r"[\s,.]+", name) if len(part) >= _MIN_TERM)
    for address in _values(identity, "address"):
        if address.strip():
            terms.add(address.strip())
            # "Jl. Kenanga No. 12 RT 04/RW 07, Menteng": the street part is typed alone in
            # text more often than the whole; a bare place name ("Menteng") is not the home.
            terms.update(
                part.strip()
                for part in address.split(",")
                if any(ch.isdigit() for ch in part) and len(part.strip()) >= _MIN_TERM
            )
    for key in ("contact", "contacts", "phone", "email", "nik", "handle"):
        for value in _values(identity, key):
            if len(value.strip()) >= _MIN_TERM:
                terms.add(value.strip())
                if key == "handle":
                    terms.add(value.strip().lstrip("@"))
    return tuple(sorted(terms, key=len, reverse=True))


# Between the digits of a number people type spaces, dashes, dots, slashes and brackets.
_DIGIT_GAP = r"[ \t\-./()]*"


def _digits_pattern(digits: str) -> str:
    return _DIGIT_GAP.join(digits)


def _parse_number(term: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(term, "ID")
    except phonenumbers.NumberParseException:
        return None


_Parse = Callable[[str], "phonenumbers.PhoneNumber | None"]


def _phone_pattern(term: str, parse: _Parse = _parse_number) -> tuple[str, str] | None:
    """The reporter's phone number in every way it is typed: "+62 812-6365-3679",
    "0812 6365 3679", "62812..." and "(0812) ...", by its national number and country code.
    With the pattern, the national number (every match holds its digits, in a row once
    the gaps are taken out)."""
    parsed = parse(term)
    if parsed is None:
        return None
    national = phonenumbers.national_significant_number(parsed)
    if len(national) < _MIN_PHONE_DIGITS - 1:
        return None
    code = str(parsed.country_code)
    prefix = rf"(?:(?:\+|00)[ \t]*{_digits_pattern(code)}|{code}|\(?0\)?)?{_DIGIT_GAP}"
    return rf"(?<![\d+]){prefix}{_digits_pattern(national)}(?!\d)", national


def _email_pattern(term: str) -> str:
    """The reporter's e-mail in any case, with the spacing and "at"/"dot" spellings people
    use to dodge spam filters ("Budi @ Contoh . id", "budi [at] contoh [dot] id")."""
    local, _, domain = term.strip().partition("@")
    at = r"[ \t]*(?:@|\(at\)|\[at\]|\bat\b)[ \t]*"
    dot = r"[ \t]*(?:\.|\(dot\)|\[dot\]|\bdot\b)[ \t]*"
    parts = [re.escape(p) for p in domain.split(".")]
    local_pattern = dot.join(re.escape(p) for p in local.split("."))
    return rf"(?<![\w.]){local_pattern}{at}{dot.join(parts)}(?![\w])"


def _words_pattern(term: str) -> str:
    """A name or an address, word by word, with any spacing and punctuation between the
    words and leading zeros optional in numbers ("RT 04/RW 07" = "RT.4 RW.7")."""
    words = re.findall(r"\w+", term)
    pieces = [rf"0*{int(w)}" if w.isdigit() else re.escape(w) for w in words]
    return r"(?<![\w])" + r"[\W_]{0,3}".join(pieces) + r"(?![\w])"


@dataclass(frozen=True, slots=True)
class _Term:
    """A reporter's value, and what any match of its pattern cannot lack: `pieces` the
    match contains (compared in lower case), or, for a number, enough of the text's digits.
    Checking those first spares building and compiling a pattern for a text it cannot
    match (a pattern per reporter misses re's cache: 7 % of intake's CPU on a filing went
    to compiling them, issue 18)."""

    value: str  # stripped
    kind: str  # "email", "number" or "words"
    pieces: tuple[str, ...] = ()
    digits: str = ""  # a number's digits

    def may_match(self, lowered: str | None, text_digits: Callable[[], str]) -> bool:
        if self.kind == "number":
            # Its pattern holds its national number (at least 7 digits) or all its digits.
            return len(text_digits()) >= min(len(self.digits), _MIN_PHONE_DIGITS - 1)
        # Lower-case containment equals the pattern's IGNORECASE matching only for ASCII
        # (re also matches "s" to "ſ" and "k" to the Kelvin sign): other texts and terms
        # always go to the pattern.
        if lowered is not None and all(p.isascii() for p in self.pieces):
            return all(p in lowered for p in self.pieces)
        return True

    def pattern(self, parse: _Parse = _parse_number) -> tuple[str, str]:
        """The pattern, and for a number the digits every match holds in a row once
        everything but digits is taken out of the text ("" for the other kinds)."""
        if self.kind == "email":
            return _email_pattern(self.value), ""
        if self.kind == "words":
            return _words_pattern(self.value), ""
        whole = r"(?<!\d)" + _digits_pattern(self.digits) + r"(?!\d)", self.digits
        if len(self.digits) == 16 and not self.value.startswith("+"):  # a NIK
            return whole
        return _phone_pattern(self.value, parse) or whole


def _term(term: str) -> _Term | None:
    stripped = term.strip()
    if "@" in stripped and not stripped.startswith("@"):
        local, _, domain = stripped.partition("@")
        pieces = tuple(p.lower() for p in (*local.split("."), *domain.split(".")) if p)
        return _Term(stripped, "email", pieces)
    digits = re.sub(r"\D", "", stripped)
    if re.fullmatch(r"[\d \t+\-./()]+", stripped) and digits:
        return _Term(stripped, "number", digits=digits)
    if not re.search(r"\w", stripped):
        return None
    words = re.findall(r"\w+", stripped)
    pieces = tuple(str(int(w)) if w.isdigit() else w.lower() for w in words)
    return _Term(stripped, "words", pieces)


def _term_pattern(term: str) -> str | None:
    found = _term(term)
    return found.pattern()[0] if found else None


def _own_number(term: str, parse: _Parse = _parse_number) -> tuple[str, int] | None:
    """A value that is a phone number: its E.164 form and its national number's length."""
    if "@" in term or not re.fullmatch(r"[\d \t+\-./()]+", term.strip()):
        return None
    number = parse(term)
    if number is None:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, len(phonenumbers.national_significant_number(number))


@dataclass(slots=True, repr=False)
class Terms:
    """A reporter's values made ready once for every text of theirs scrubbed together (a
    title and its text, the officer and the public level): each value parsed once, its
    pattern built and compiled only when a text could hold it, then kept for the next
    text. Parsing the same values again for each text was half of what scrubbing cost
    (issue 18). Build one per event or request (`prepare_terms`) and let it go with it: it
    holds the reporter's values, so it is never kept across reporters or cached."""

    values: tuple[str, ...]
    _terms: tuple[_Term | None, ...] = ()
    # Per term: its pattern and the digits a match needs (see `_Term.pattern`), and the
    # pattern compiled once a text held those digits.
    _sources: dict[int, tuple[str, str]] = field(default_factory=dict)
    _compiled: dict[int, re.Pattern[str]] = field(default_factory=dict)
    # The reporter's phone numbers (E.164) and the shortest national number's length, parsed
    # when a text with digits first asks (libphonenumber's parse is most of a preparation).
    _numbers: tuple[frozenset[str], int] | None = None
    # Each value parsed as a phone number at most once (a pattern and the matcher's check
    # both need it).
    _parsed: dict[str, phonenumbers.PhoneNumber | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._terms = tuple(_term(value) for value in self.values)

    def _own(self) -> tuple[frozenset[str], int]:
        if self._numbers is None:
            own: set[str] = set()
            shortest = 0
            for value in self.values:
                number = _own_number(value, self._parse)
                if number is None:
                    continue
                own.add(number[0])
                shortest = min(shortest, number[1]) if shortest else number[1]
            self._numbers = (frozenset(own), shortest)
        return self._numbers

    def _parse(self, value: str) -> phonenumbers.PhoneNumber | None:
        if value not in self._parsed:
            self._parsed[value] = _parse_number(value)
        return self._parsed[value]

    def __repr__(self) -> str:  # never the reporter's values, in a log or a traceback
        return f"Terms({len(self.values)} values)"

    def _source(self, index: int, term: _Term) -> tuple[str, str]:
        source = self._sources.get(index)
        if source is None:
            source = self._sources[index] = term.pattern(self._parse)
        return source

    def _pattern(self, index: int, source: str) -> re.Pattern[str]:
        compiled = self._compiled.get(index)
        if compiled is None:
            compiled = self._compiled[index] = re.compile(source, re.IGNORECASE)
        return compiled


def prepare_terms(terms: Iterable[str] | Terms) -> Terms:
    """`terms` made ready (see `Terms`); already prepared ones as they are."""
    return terms if isinstance(terms, Terms) else Terms(tuple(terms))


def scrub_terms(text: str, terms: Iterable[str] | Terms) -> str:
    """Hide each of the reporter's own values (case-insensitive, whole words, in every
    format they are typed: see `_term`)."""
    prepared = prepare_terms(terms)
    lowered = text.lower() if text.isascii() else None
    only_digits: list[str] = []

    def text_digits() -> str:  # the text's digits, in a row, once asked for
        if not only_digits:
            only_digits.append(_NON_DIGITS.sub("", text))
        return only_digits[0]

    for index, term in enumerate(prepared._terms):
        if term is None or not term.may_match(lowered, text_digits):
            continue
        source, needed = prepared._source(index, term)
        if needed and needed not in text_digits():
            # A number whose digits the text does not hold: no pattern compiled for it (a
            # sequence number's digits pass the first check; compiling a phone number's
            # pattern per filing was 3 % of intake at 100/s, issue 18).
            continue
        text = prepared._pattern(index, source).sub(HIDDEN, text)
        lowered = text.lower() if text.isascii() else None  # what is left
        only_digits.clear()
    return _scrub_phone_matches(text, prepared)


_NON_DIGITS = re.compile(r"\D")
_ANY_DIGIT = re.compile(r"\d")  # str.isdigit's answer for ASCII text (beyond it, \d is narrower)


def _scrub_phone_matches(text: str, terms: Terms) -> str:
    """A second look with libphonenumber's matcher, for what the patterns missed: any number
    in the text that is one of the reporter's numbers once normalized."""
    if not (_ANY_DIGIT.search(text) if text.isascii() else any(map(str.isdigit, text))):
        return text
    own, shortest = terms._own()
    # The matcher's candidates are digits and punctuation: one of the reporter's numbers
    # needs at least its national number's count of the text's digits.
    if not own or len(_NON_DIGITS.sub("", text)) < shortest:
        return text
    spans = [
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(
            text, "ID", leniency=phonenumbers.Leniency.POSSIBLE
        )
        if phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164) in own
    ]
    for start, end in reversed(spans):
        text = text[:start] + HIDDEN + text[end:]
    return text


def scrub_officer_text(text: str, terms: Iterable[str] | Terms = ()) -> str:
    """The text every officer role reads: the reporter's own values and every phone number,
    e-mail address and NIK hidden.

    Order matters: well-formed e-mails first, whole (a name part would otherwise take
    "Budi.Santoso" out of "Budi.Santoso@contoh.id" and leave the domain), then the
    reporter's values in their other formats, NIKs before phone numbers (an e-mail's
    digits are gone by then, not judged as a phone number)."""
    text = _EMAIL.sub(HIDDEN, text)
    text = scrub_terms(text, terms)
    text = _NIK.sub(HIDDEN, text)
    return _DIGIT_RUN.sub(_phone, text)


def scrub_erased(text: str, terms: Iterable[str] | Terms = ()) -> str:
    """The stored text after erasure, for every role: the officer scrub and plates (plates
    last, after the digits of phone numbers are gone, so "B 0812..." cannot half-match)."""
    return _PLATE.sub(HIDDEN, scrub_officer_text(text, terms))


def public_from_officer(officer: str) -> str:
    """The public text of a text already scrubbed at the officer level: plates, then street
    addresses with a house number or RT/RW. `scrub_text` is exactly this after
    `scrub_officer_text`, so a consumer that stores both levels scrubs the reporter's values
    once, not twice."""
    text = _PLATE.sub(HIDDEN, officer)
    text = _HOUSE.sub(HIDDEN, text)
    return _RT_RW.sub(HIDDEN, text)


def scrub_text(text: str, terms: Iterable[str] | Terms = ()) -> str:
    """Public text: the erased-level scrub and street addresses with a house number or
    RT/RW (the public sees the area, never a house)."""
    return public_from_officer(scrub_officer_text(text, terms))
