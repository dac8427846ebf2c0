"""Forgiving name search over kelurahan and kecamatan, for a search box."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from ._codes import is_within
from ._names import PREFIXES, Entry, NameIndex, name_index
from ._registry import Area, point
from ._text import fold


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result: the area, its path label, how well it matches (0..1; 1 is the
    name exactly, up to case, spacing and punctuation) and its point if the table has one."""

    area: Area
    label: str
    score: float
    point: tuple[float, float] | None = None


def _strip_prefixes(tokens: list[str]) -> tuple[list[str], str | None]:
    """Drops leading "kel.", "kecamatan", "kota", "jakarta"… and says which level they named."""
    hint: str | None = None
    rest = list(tokens)
    while len(rest) > 1 and (rest[0] in PREFIXES or rest[0] in ("jakarta", "dki", "jkt")):
        word = rest.pop(0)
        hint = PREFIXES.get(word) or hint
    return rest, hint


def name_score(query: str, name: str) -> float:
    """How well a folded query matches a folded name, 0..1.

    1 for the same name (spacing aside: "palmerah" is "Pal Merah"); 0.9-0.99 when the name
    starts with the query (typing in progress); 0.8-0.89 when one of its words does
    ("utara" in "Petojo Utara"); otherwise the similarity ratio of the two (and of the query
    to the name's start, for a misspelt word being typed), scaled by 0.95 so that a
    misspelling never outranks a true prefix.
    """
    q, n = query.replace(" ", ""), name.replace(" ", "")
    if not q or not n:
        return 0.0
    if q == n:
        return 1.0
    if n.startswith(q):
        return 0.9 + 0.09 * len(q) / len(n)
    if (" " + query) in (" " + name):
        return 0.8 + 0.09 * len(q) / len(n)
    ratio = fuzz.ratio(q, n) / 100
    if len(q) >= 4 and len(n) > len(q):
        ratio = max(ratio, 0.9 * fuzz.ratio(q, n[: len(q)]) / 100)
    return 0.95 * ratio


def _context_codes(index: NameIndex, parts: list[str]) -> set[str]:
    """Codes of the kota/kecamatan named in the query's other parts ("…, Jakarta Barat")."""
    codes: set[str] = set()
    for part in parts:
        tokens = fold(part).split()
        whole = "".join(tokens)
        key = "".join(_strip_prefixes(tokens)[0])
        if not key:
            continue
        found = index.by_key.get(whole) or index.by_key.get(key)
        if found is None and len(key) >= 5:
            best = process.extractOne(key, index.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=85)
            found = index.by_key.get(best[0]) if best else None
        codes.update(a.code for a in found or () if a.level != "village")
    return codes


def _split_regency(index: NameIndex, tokens: list[str]) -> tuple[list[str], set[str]]:
    """Takes a trailing kota name out of the query: "kebon jeruk jakarta barat" ->
    ("kebon jeruk", {31.73})."""
    for size in (3, 2, 1):
        if len(tokens) < size:
            continue
        tail = tokens[-size:]
        if tail[0] in PREFIXES and len(tail) > 1:
            tail = tail[1:]
        found = index.by_key.get("".join(tail), ())
        regencies = {a.code for a in found if a.level in ("regency", "province")}
        if regencies and len(found) == len(regencies):
            head = tokens[:-size]
            if head and head[-1] in PREFIXES:
                head = head[:-1]
            return head, regencies
    return tokens, set()


def search(
    query: str, limit: int = 10, within: str | None = "31", *, min_score: float = 0.6
) -> list[SearchHit]:
    """Kelurahan and kecamatan whose name matches ``query``, best first.

    Forgiving: case, accents, punctuation and spacing do not matter; "Kel."/"Kelurahan"/
    "Kec."/"Kecamatan"/"Kota"/"Jakarta" before the name are dropped (and "Kel." or "Kec."
    prefer that level); a misspelt name still matches by its similarity ratio; text after a
    comma or a trailing kota ("Menteng, Jakarta Selatan", "kebon jeruk jakbar") prefers the
    areas inside it. On equal scores a kelurahan comes before the kecamatan of the same
    name. ``within`` limits the search to an area (default DKI Jakarta; None: all Indonesia).
    """
    if limit <= 0:
        return []
    index = name_index(within)
    head, *rest = query.split(",")
    tokens = fold(head).split()
    tokens, context = _split_regency(index, tokens)
    context |= _context_codes(index, rest)
    stripped, hint = _strip_prefixes(tokens)
    # "Kota Bambu" is a name, "Kel. Gambir" is not: keep the words as typed too, unless
    # they named a level.
    queries = {" ".join(stripped)} - {""}
    if hint not in ("village", "district") and tokens:
        queries.add(" ".join(tokens))

    hits: list[tuple[float, int, str, Entry]] = []
    for entry in index.entries:
        if queries:
            score = max(name_score(q, entry.folded) for q in queries)
        elif context:
            # Only a kota: its kecamatan.
            inside = any(is_within(entry.area.code, c) for c in context)
            score = 0.7 if entry.area.level == "district" and inside else 0.0
        else:
            return []
        if hint is not None:
            score += 0.02 if entry.area.level == hint else -0.05
        if context:
            inside = any(is_within(entry.area.code, c) for c in context)
            score += 0.05 if inside else -0.1
        score = min(1.0, max(0.0, score))
        if score >= min_score:
            order = 0 if entry.area.level == "village" else 1
            hits.append((score, order, entry.area.code, entry))
    hits.sort(key=lambda h: (-h[0], h[1], h[2]))
    return [
        SearchHit(area=e.area, label=e.label, score=round(s, 3), point=point(e.area.code))
        for s, _, _, e in hits[:limit]
    ]
