"""From what a reporter gave (a chosen code, a point, a place name, an address) to an area."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal

from rapidfuzz import fuzz, process

from ._boundaries import Boundaries, PointMatch
from ._codes import is_within, normalize_code
from ._names import PREFIXES, NameIndex, name_index
from ._registry import Area, get, label
from ._text import words

How = Literal["code", "point", "name", "address"]

# Words that open a street, building or estate: names right after them are the street's,
# often borrowed from a kelurahan elsewhere ("Jl. Kebon Sirih" runs through Gambir).
_STREET_OPENERS = frozenset(
    [
        "jl",
        "jln",
        "jalan",
        "gg",
        "gang",
        "lorong",
        "komplek",
        "kompleks",
        "komp",
        "perumahan",
        "perum",
        "apartemen",
        "apt",
        "gedung",
        "gd",
        "ruko",
    ]
)
# Words that close a street name: "Jl. Kebon Sirih No. 12 Gambir" -> Gambir is no street.
_STREET_CLOSERS = frozenset(
    ["no", "nomor", "nmr", "rt", "rw", "kav", "kavling", "blok", "kel", "kelurahan", "kec"]
)
# Kelurahan names that are everyday words ("lampu baru", "di tengah jalan", "tangki air"):
# in a longer text they count only when nothing better is there.
_COMMON_WORDS = frozenset(
    [
        "baru",
        "tengah",
        "jati",
        "gunung",
        "karet",
        "rambutan",
        "pulo",
        "setu",
        "tangki",
        "kenari",
        "kamal",
        "dukuh",
        "gedong",
        "kramat",
        "bangka",
        "galur",
        "tugu",
        "duri",
    ]
)
_SEGMENT = re.compile(r"[,;\n|()\[\]]+")
_POSTAL = re.compile(r"^[1-9][0-9]{4}$")
_FUZZY_CUTOFF = 85.0
_MAX_SPAN = 6


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a report is: the most specific area found (a kelurahan when one could be told),
    how it was found (``code``: chosen by the reporter or an officer; ``point``: from a map
    point; ``name``: the text was a place name; ``address``: names found in a longer text),
    how sure that is (0..1, see :func:`resolve`), its path label, and the other areas the
    text could also have meant, best first."""

    area: Area
    how: How
    confidence: float
    label: str
    alternatives: tuple[Area, ...] = ()

    @property
    def kelurahan(self) -> Area | None:
        """The kelurahan (village) found, or None when only a larger area was."""
        return self.area if self.area.level == "village" else None


@dataclass(slots=True)
class _Match:
    """A run of words that is the name of one or more areas."""

    start: int
    end: int
    quality: dict[str, float]  # code -> 0..1 (1: the name exactly; less: misspelt)
    areas: dict[str, Area]
    street: bool
    tag: str | None = None
    common: bool = False


@dataclass(slots=True)
class _Reading:
    matches: list[_Match]
    postal_codes: set[str]
    uncovered: int  # words that are neither a name, a prefix nor part of an address frame
    segments: int
    has_street: bool


def _tokens(text: str) -> list[tuple[str, bool, int]]:
    """(word, in a street name, segment) for every folded word of ``text``."""
    found: list[tuple[str, bool, int]] = []
    for segment_no, segment in enumerate(s for s in _SEGMENT.split(text) if s.strip()):
        in_street = False
        for word in words(segment):
            if word in _STREET_OPENERS:
                in_street = True
                found.append((word, False, segment_no))
                continue
            if in_street and (word in _STREET_CLOSERS or any(c.isdigit() for c in word)):
                in_street = False
            found.append((word, in_street, segment_no))
    return found


def _read(text: str, index: NameIndex) -> _Reading:
    tokens = _tokens(text)
    matches: list[_Match] = []
    postal: set[str] = set()
    uncovered = 0
    pending_tag: str | None = None
    i = 0
    n = len(tokens)

    # How far a name starting at each token may reach: its words in one segment, all in a
    # street or none, no street opener, no number. Worked out once per start (checking
    # every span word by word was 40 % of resolving a complaint's text).
    reach: dict[int, int] = {}

    def reach_of(start: int) -> int:
        r = reach.get(start)
        if r is None:
            first = tokens[start]
            r, limit = start, min(n, start + _MAX_SPAN)
            while r < limit:
                word, street, segment = tokens[r]
                if (
                    segment != first[2]
                    or street != first[1]
                    or word in _STREET_OPENERS
                    or word.isdigit()
                ):
                    break
                r += 1
            reach[start] = r
        return r

    def span_ok(start: int, end: int) -> bool:
        return end <= reach_of(start)

    while i < n:
        word, street, _ = tokens[i]
        if _POSTAL.match(word):
            postal.add(word)
            i += 1
            continue
        exact: _Match | None = None
        # The longest name first: the keys of tokens[i:end], built word by word.
        longest = reach_of(i)
        keys = list(accumulate(t[0] for t in tokens[i:longest]))
        for end in range(longest, i, -1):
            key = keys[end - i - 1]
            found = index.by_key.get(key)
            if found:
                exact = _Match(
                    start=i,
                    end=end,
                    quality={a.code: 1.0 for a in found},
                    areas={a.code: a for a in found},
                    street=street,
                    common=key in _COMMON_WORDS,
                )
                break
        if exact is None and word in PREFIXES:
            pending_tag = PREFIXES[word] or pending_tag
            i += 1
            continue
        if exact is None and (
            word in _STREET_OPENERS or word in _STREET_CLOSERS or any(c.isdigit() for c in word)
        ):
            i += 1
            continue
        match = exact or _fuzzy(tokens, i, index, span_ok)
        if match is None:
            uncovered += 1
            pending_tag = None
            i += 1
            continue
        match.tag = pending_tag
        pending_tag = None
        matches.append(match)
        i = match.end
    return _Reading(
        matches=matches,
        postal_codes=postal,
        uncovered=uncovered,
        segments=len({t[2] for t in tokens}),
        has_street=any(t[1] for t in tokens) or any(t[0] in _STREET_OPENERS for t in tokens),
    )


# Bounds the memo of compared words per index: past it, the memo starts again (a flood of
# random words must not grow a long-running intake without end).
_CLOSE_MEMO_MAX = 100_000


def _close_keys(key: str, index: NameIndex) -> tuple[tuple[str, float], ...]:
    """The index keys close to ``key`` with their scores (0-100, best first, within 2 points
    of the best), remembered."""
    known = index.close.get(key)
    if known is not None:
        return known
    found = process.extract(
        key, index.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF, limit=8
    )
    top = found[0][1] if found else 0.0
    close = tuple((k, s) for k, s, _ in found if s >= top - 2)
    if len(index.close) >= _CLOSE_MEMO_MAX:
        index.close.clear()
    index.close[key] = close
    return close


def _fuzzy(
    tokens: list[tuple[str, bool, int]],
    start: int,
    index: NameIndex,
    span_ok: Callable[[int, int], bool],
) -> _Match | None:
    """The best misspelt name starting at ``start`` (one to three words), if any is close."""
    best: tuple[float, int, list[tuple[str, float]]] | None = None
    for end in range(start + 1, min(len(tokens), start + 3) + 1):
        if not span_ok(start, end):
            break
        if any(t[0] in PREFIXES for t in tokens[start:end]):
            break
        key = "".join(t[0] for t in tokens[start:end])
        if len(key) < 5 or key in _COMMON_WORDS:
            continue
        near = _close_keys(key, index)
        if not near:
            continue
        top = near[0][1]
        if best is None or top > best[0] or (top == best[0] and end > best[1]):
            best = (top, end, [(k, score / 100) for k, score in near])
    if best is None:
        return None
    _, end, close = best
    quality: dict[str, float] = {}
    areas: dict[str, Area] = {}
    for key, q in close:
        for area in index.by_key[key]:
            if q > quality.get(area.code, 0.0):
                quality[area.code] = q
                areas[area.code] = area
    return _Match(start=start, end=end, quality=quality, areas=areas, street=tokens[start][1])


def _contains(outer: Area, inner: Area) -> bool:
    return is_within(inner.code, outer.code)


@dataclass(slots=True)
class _Candidate:
    area: Area
    own: float  # quality of its own name in the text (halved in a street name)
    own_match: _Match | None
    score: float = 0.0
    confidence: float = 0.0
    alternatives: list[Area] = field(default_factory=list)


def _weighted(match: _Match, code: str) -> float:
    return match.quality[code] * (0.5 if match.street else 1.0) * (0.4 if match.common else 1.0)


def _evaluate(reading: _Reading, index: NameIndex) -> Resolution | None:
    matches = reading.matches
    only_name = (
        len(matches) == 1
        and reading.uncovered == 0
        and not reading.postal_codes
        and not reading.has_street
        and reading.segments == 1
    )
    if only_name:
        # "Baru" alone is the kelurahan; only inside a sentence is it the word "new".
        matches[0].common = False
    # A level word before a name ("Kel. Gambir", "Kecamatan Kebon Jeruk") keeps only areas
    # of that level when there are any.
    for m in matches:
        if m.tag:
            keep = {c for c, a in m.areas.items() if a.level == m.tag}
            if keep:
                m.areas = {c: m.areas[c] for c in keep}
            else:
                m.quality = {c: q * 0.8 for c, q in m.quality.items()}
    candidates: dict[str, _Candidate] = {}
    for m in matches:
        for code, area in m.areas.items():
            if not is_within(code, index.scope) or (index.scope and code == index.scope):
                continue
            own = _weighted(m, code)
            cand = candidates.get(code)
            if cand is None or own > cand.own:
                candidates[code] = _Candidate(area=area, own=own, own_match=m)
    for code in reading.postal_codes:
        for area in index.by_postal_code.get(code, ()):
            candidates.setdefault(area.code, _Candidate(area=area, own=0.0, own_match=None))
    if not candidates:
        # Only the scope itself was named ("Jakarta" with the default scope): say that much.
        for m in matches:
            if index.scope in m.areas:
                area = m.areas[index.scope]
                return Resolution(area, "address", 0.2, label(area))
        return None

    def support(cand: _Candidate, level: str) -> float:
        """Best quality of another name in the text naming an area of ``level`` around
        the candidate, or (``inside``) any kecamatan or kelurahan inside it."""
        best = 0.0
        for m in matches:
            if m is cand.own_match:
                continue
            for code, area in m.areas.items():
                if level == "inside":
                    hit = area.level in ("district", "village") and _contains(cand.area, area)
                    hit = hit and area.code != cand.area.code
                else:
                    hit = area.level == level and _contains(area, cand.area)
                if hit:
                    best = max(best, _weighted(m, code))
        return best

    def contradicted(cand: _Candidate) -> bool:
        """Another name says a different kota (or a tagged kecamatan says another one)."""
        for m in matches:
            if m is cand.own_match or m.street:
                continue
            levels = {a.level for a in m.areas.values()}
            decisive = levels <= {"regency"} or (m.tag == "district" and levels == {"district"})
            if (
                decisive
                and cand.area.level in ("village", "district")
                and not any(
                    _contains(a, cand.area) or _contains(cand.area, a) for a in m.areas.values()
                )
            ):
                return True
        return False

    for cand in candidates.values():
        a = cand.area
        postal = 1.0 if a.postal_code and a.postal_code in reading.postal_codes else 0.0
        contra = 1.0 if contradicted(cand) else 0.0
        tagged = cand.own_match is not None and cand.own_match.tag == a.level
        if a.level == "village":
            above = support(cand, "district")
            kota = support(cand, "regency")
            cand.score = cand.own + 0.5 * above + 0.3 * kota + 0.4 * postal - 0.5 * contra
            # Known by its kode pos only: 0.5. In a street name, ``own`` is already halved.
            base = 0.5 if cand.own_match is None else 0.7 * cand.own
            cand.confidence = base + 0.12 * above + 0.08 * kota + 0.08 * postal
        elif a.level == "district":
            kota = support(cand, "regency")
            inside = support(cand, "inside")
            cand.score = cand.own + 0.3 * kota + 0.3 * inside - 0.5 * contra
            cand.confidence = 0.7 * cand.own + 0.08 * kota + 0.12 * inside
        elif a.level == "regency":
            inside = support(cand, "inside")
            cand.score = cand.own + 0.2 * inside - 0.5 * contra
            cand.confidence = 0.6 * cand.own
        else:
            cand.score = 0.5 * cand.own
            cand.confidence = 0.3 * cand.own
        if tagged:
            cand.confidence += 0.15
        cand.confidence -= 0.3 * contra

    def in_street(c: _Candidate) -> bool:
        return c.own_match is not None and c.own_match.street

    def pick(level: str, street: bool) -> list[_Candidate]:
        found = [c for c in candidates.values() if c.area.level == level and in_street(c) == street]
        return sorted(found, key=lambda c: (-c.score, c.area.code))

    chosen: _Candidate | None = None
    pool: list[_Candidate] = []
    for level, street in (
        ("village", False),
        ("district", False),
        ("village", True),
        ("regency", False),
        ("district", True),
        ("regency", True),
        ("province", False),
    ):
        pool = pick(level, street)
        if pool:
            chosen = pool[0]
            break
    assert chosen is not None
    factor = 1.0
    # Another area of the same level that the text fits about as well.
    rivals = [c for c in pool[1:] if c.score >= chosen.score - 0.15]
    if rivals:
        factor *= 0.6
        chosen.alternatives.extend(c.area for c in rivals[:3])
    # The same words also name an area of another level: "Kebon Jeruk" is a kecamatan and,
    # inside it, a kelurahan; "Jatinegara" a kecamatan and a kelurahan of Cakung.
    if chosen.own_match is not None and chosen.own_match.tag is None:
        first = chosen.area
        for code, other in list(chosen.own_match.areas.items()):
            if code in (first.code, chosen.area.code) or other.level in ("province", first.level):
                continue
            if not is_within(code, index.scope):
                continue
            nested = _contains(other, chosen.area) or _contains(chosen.area, other)
            if not nested:
                rival = candidates.get(code)
                rival_score = rival.score if rival is not None else 0.0
                # Unrelated areas: the one the rest of the text agrees with wins; a close
                # call costs more than a clear one.
                factor *= 0.6 if abs(rival_score - chosen.score) <= 0.15 else 0.9
                if rival is not None and rival.score > chosen.score:
                    rival.alternatives = [chosen.area, *chosen.alternatives]
                    chosen = rival
                else:
                    chosen.alternatives.insert(0, other)
            elif chosen.area.level == "village" and support(chosen, "district") == 0:
                chosen.alternatives.append(other)
                factor *= 0.8
    # A kecamatan chosen while a street name matched a kelurahan inside it: say so.
    if chosen.area.level == "district":
        chosen.alternatives.extend(
            c.area
            for c in candidates.values()
            if c.area.level == "village" and in_street(c) and _contains(chosen.area, c.area)
        )
    confidence = round(min(0.97, max(0.05, chosen.confidence * factor)), 2)
    seen: set[str] = {chosen.area.code}
    alternatives: list[Area] = []
    for alt in chosen.alternatives:
        if alt.code not in seen:
            seen.add(alt.code)
            alternatives.append(alt)
    return Resolution(
        area=chosen.area,
        how="name" if only_name else "address",
        confidence=confidence,
        label=label(chosen.area),
        alternatives=tuple(alternatives),
    )


def resolve(
    text: str | None = None,
    point: tuple[float, float] | None = None,
    kelurahan_code: str | None = None,
    *,
    within: str | None = "31",
) -> Resolution | None:
    """The area a report is about, from the best of what was given; None if nothing fits.

    1. ``kelurahan_code`` (picked from the list by the reporter or an officer; dotted or
       not, any level): taken as it is when it exists inside ``within``, confidence 1.
    2. ``point`` (lat, lon): the polygon it is in, when an operator gave kelurahan
       boundaries (:func:`use_boundaries`; none ship, docs/decisions.md D13): 0.9 inside,
       0.6 within the border margin (the neighbour as an alternative; the text, when it
       names one of the two, settles it), 0.4 just outside every polygon. Without
       boundaries a point is not used and the text decides.
    3. ``text``: place names found in a name or an address ("Kel. Gambir", "Gambirr",
       "Jl. Kebon Sirih No. 12, Gambir, Jakarta Pusat"), forgiving case, punctuation,
       spacing and misspellings. Every kelurahan, kecamatan and kota named is a candidate;
       a kelurahan is preferred when the other names agree with it (its kecamatan, its kota,
       its kode pos) and lose when they name another kota. Names inside a street name
       ("Jl. Kebon Sirih") count for little. ``how`` is ``name`` when the text was a single
       place name, ``address`` otherwise.

    Confidence for text: 0.7 for a kelurahan named exactly (less when misspelt), +0.15 when
    "Kel."/"Kelurahan" said so, +0.12 when its kecamatan is named too, +0.08 for its kota,
    +0.08 for its kode pos; -0.3 when another kota is named; x0.8 when the same words also
    name the kecamatan around it, x0.6 when they name an unrelated area too or another
    candidate fits about as well (those are in ``alternatives``). A kecamatan alone starts
    at 0.7, a kota at 0.6; a kelurahan known only from a street name or its kode pos at
    0.35 and 0.5. Capped at 0.97: only a chosen code is certain.
    """
    if kelurahan_code:
        area = get(kelurahan_code)
        if area is not None and is_within(area.code, normalize_code(within) if within else None):
            return Resolution(area, "code", 1.0, label(area))
    found = None
    if text and text.strip():
        index = name_index(within)
        found = _evaluate(_read(text, index), index)
    if point is not None and _boundaries is not None:
        match = _boundaries.locate(*point)
        if match is not None and is_within(
            match.area.code, normalize_code(within) if within else None
        ):
            return _with_point(match, found)
    return found


# Kelurahan boundaries, when an operator gave some (aduan_areas.use_boundaries); none ship.
_boundaries: Boundaries | None = None


def use_boundaries(boundaries: Boundaries | None) -> None:
    """Resolve points with these boundaries from now on (None: points are not used)."""
    global _boundaries
    _boundaries = boundaries


def _with_point(match: PointMatch, named: Resolution | None) -> Resolution:
    """The point's area, settled by the text when the point is near a border: a text that
    names the point's own area makes it surer; one that names the neighbour across the
    border wins (a tap a few metres off the street the reporter named)."""
    candidates = {match.area.code: match.area} | {a.code: a for a in match.alternatives}
    if named is not None and named.area.code in candidates and named.confidence >= 0.5:
        area = named.area
        sure = max(match.confidence, min(0.95, match.confidence + 0.2))
        rest = tuple(a for a in (match.area, *match.alternatives) if a.code != area.code)
        return Resolution(area, "point", round(sure, 2), label(area), rest)
    return Resolution(match.area, "point", match.confidence, label(match.area), match.alternatives)
