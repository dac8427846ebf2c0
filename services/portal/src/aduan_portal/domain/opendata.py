"""The open-data downloads (CSV, GeoJSON) of the public read model: columns and encoding.

Only what the gateway published as public, plus the coarse grid point; never the exact time
(the row's `updated_at` is not a column) and never a precise location.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from aduan_kit.csvsafe import write_csv
from aduan_portal.domain.i18n import Language

__all__ = ["COLUMNS", "column_docs", "to_csv", "to_geojson"]

# (column, Indonesian meaning, English meaning) — the order is the CSV's.
_COLUMN_DOCS: tuple[tuple[str, str, str], ...] = (
    ("public_id", "Kode publik laporan", "The report's public code"),
    ("url", "Alamat halaman laporan di portal", "The report's page on this portal"),
    ("title", "Judul (boleh kosong)", "Title (may be empty)"),
    ("text", "Isi laporan, disaring dari data pribadi", "Report text, scrubbed of personal data"),
    ("category", "Kode kategori", "Category code"),
    ("agency_id", "Kode instansi yang menangani", "Code of the agency handling it"),
    ("status", "Kode status", "Status code"),
    ("status_label", "Label status (Bahasa Indonesia)", "Status label (Indonesian)"),
    ("channel", "Kanal pelaporan", "Channel the report came through"),
    ("area", "Wilayah (kelurahan/kecamatan)", "Area (sub-district/district)"),
    (
        "area_code",
        "Kode wilayah Kemendagri (kota, kecamatan atau kelurahan), boleh kosong",
        "Kemendagri area code (kota, kecamatan or kelurahan), may be empty",
    ),
    ("month", "Bulan laporan diterima (TTTT-BB)", "Month the report was received (YYYY-MM)"),
    (
        "confidentiality_label",
        "Label kerahasiaan, persis seperti yang diterbitkan",
        "Confidentiality label, exactly as published",
    ),
    (
        "completed_hours",
        "Jam dari diterima sampai selesai (kosong bila belum selesai)",
        "Hours from receipt to completion (empty until completed)",
    ),
    ("lat", "Lintang titik kisi 0,01° (~1 km), boleh kosong", "Latitude on a 0.01° (~1 km) grid"),
    ("lon", "Bujur titik kisi 0,01° (~1 km), boleh kosong", "Longitude on a 0.01° (~1 km) grid"),
)
COLUMNS: tuple[str, ...] = tuple(c for c, _, _ in _COLUMN_DOCS)


def column_docs(lang: Language) -> list[tuple[str, str]]:
    return [(c, en if lang == "en" else id_) for c, id_, en in _COLUMN_DOCS]


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    # The kit's writer neutralises formula cells (citizens write the texts), the same one
    # the gateway's open-data export uses.
    return write_csv(COLUMNS, rows)


def to_geojson(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection; reports without a point are features with a null geometry
    (valid GeoJSON), so the download has the same reports as the CSV."""
    features = []
    for row in rows:
        lat, lon = row.get("lat"), row.get("lon")
        geometry = (
            {"type": "Point", "coordinates": [lon, lat]}
            if lat is not None and lon is not None
            else None
        )
        properties = {c: row.get(c) for c in COLUMNS if c not in ("lat", "lon")}
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    return {"type": "FeatureCollection", "features": features}
