"""Name keys of the areas in a scope, shared by search and resolution (built once per scope)."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field

from ._codes import normalize_code
from ._registry import Area, ancestors, areas, label, short_name
from ._text import fold, squash

# What people write for DKI Jakarta's kota/kabupaten besides their names.
_ALIASES: dict[str, tuple[str, ...]] = {
    "31": ("DKI Jakarta", "DKI", "Jakarta", "Daerah Khusus Jakarta", "Provinsi DKI Jakarta"),
    "31.01": ("Kepulauan Seribu", "Kep. Seribu", "Pulau Seribu", "Pulau-Pulau Seribu"),
    "31.71": ("Jakarta Pusat", "Jakpus", "Jkt Pusat", "Jakarta Pst"),
    "31.72": ("Jakarta Utara", "Jakut", "Jkt Utara", "Jakarta Utr"),
    "31.73": ("Jakarta Barat", "Jakbar", "Jkt Barat", "Jakarta Brt"),
    "31.74": ("Jakarta Selatan", "Jaksel", "Jkt Selatan", "Jakarta Sel"),
    "31.75": ("Jakarta Timur", "Jaktim", "Jkt Timur", "Jakarta Tim"),
}

# Words that open a name: what they say about the level of the name that follows.
PREFIXES: dict[str, str | None] = {
    "kel": "village",
    "kelurahan": "village",
    "desa": "village",
    "ds": "village",
    "kec": "district",
    "kecamatan": "district",
    "distrik": "district",
    "kota": "regency",
    "kotamadya": "regency",
    "kodya": "regency",
    "kab": "regency",
    "kabupaten": "regency",
    "adm": None,
    "administrasi": None,
    "prov": "province",
    "provinsi": "province",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """A kelurahan or kecamatan as the search box sees it."""

    area: Area
    folded: str
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class NameIndex:
    """``by_key``: squashed name or alias -> the areas so called (the scope, what lies under
    it, and the scope's ancestors, which support but are never a result); ``entries``: the
    kelurahan and kecamatan of the scope; ``fuzzy_keys``: keys long enough to be matched
    despite misspellings."""

    scope: str | None
    by_key: dict[str, tuple[Area, ...]]
    entries: tuple[Entry, ...]
    fuzzy_keys: tuple[str, ...]
    by_postal_code: dict[str, tuple[Area, ...]]
    # Words and word pairs already compared with `fuzzy_keys` -> the close keys found
    # (aduan_areas._resolve._fuzzy). Complaints repeat the same everyday words ("lampu",
    # "jalan", "sekolah"), and the comparison was most of resolving a text's place (issue 18).
    close: dict[str, tuple[tuple[str, float], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )


def _regency_keys(area: Area) -> set[str]:
    keys = {squash(area.name), squash(short_name(area))}
    for opener in ("Kota ", "Kab. "):
        short = short_name(area)
        if short.startswith(opener):
            keys.add(squash(short[len(opener) :]))
    return keys


def _keys(area: Area, folded: str) -> set[str]:
    keys = _regency_keys(area) if area.level == "regency" else {folded.replace(" ", "")}
    keys.update(squash(alias) for alias in _ALIASES.get(area.code, ()))
    return {k for k in keys if k}


@functools.cache
def name_index(scope: str | None) -> NameIndex:
    normal = normalize_code(scope) if scope is not None else None
    if scope is not None and normal is None:
        raise ValueError(f"not an area code: {scope!r}")
    inside = areas(normal)
    above = ancestors(normal) if normal else ()
    by_key: defaultdict[str, list[Area]] = defaultdict(list)
    by_postal: defaultdict[str, list[Area]] = defaultdict(list)
    entries: list[Entry] = []
    for area in above:
        for key in _keys(area, fold(area.name)):
            by_key[key].append(area)
    for area in inside:
        folded = fold(area.name)
        for key in _keys(area, folded):
            by_key[key].append(area)
        if area.level in ("district", "village"):
            entries.append(Entry(area, folded, folded.replace(" ", ""), label(area)))
        if area.postal_code:
            by_postal[area.postal_code].append(area)
    return NameIndex(
        scope=normal,
        by_key={k: tuple(v) for k, v in by_key.items()},
        entries=tuple(entries),
        fuzzy_keys=tuple(sorted(k for k in by_key if len(k) >= 5)),
        by_postal_code={k: tuple(v) for k, v in by_postal.items()},
    )
