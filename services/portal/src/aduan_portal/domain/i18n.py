"""Fixed UI strings in Indonesian (default) and English.

Only the portal's own words are translated. Report content is shown as the gateway published
it; status labels come from the contract's status vocabulary.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["LANGUAGES", "Language", "month_name", "pick_language", "ui_strings"]

Language = Literal["id", "en"]
LANGUAGES: tuple[Language, ...] = ("id", "en")

_STRINGS: dict[str, dict[Language, str]] = {
    "site_name": {"id": "Aduan — Laporan Warga", "en": "Aduan — Citizen Reports"},
    "skip": {"id": "Langsung ke isi", "en": "Skip to content"},
    "nav_home": {"id": "Beranda", "en": "Home"},
    "language": {"id": "Bahasa", "en": "Language"},
    "reports_heading": {"id": "Laporan publik", "en": "Public reports"},
    "reports_intro": {
        "id": "Laporan yang dipilih pelapor untuk dibuka ke publik, tanpa data pribadi.",
        "en": "Reports their reporters chose to make public, without personal data.",
    },
    "no_reports": {"id": "Belum ada laporan publik.", "en": "No public reports yet."},
    "status": {"id": "Status", "en": "Status"},
    "category": {"id": "Kategori", "en": "Category"},
    "agency": {"id": "Instansi", "en": "Agency"},
    "area": {"id": "Wilayah", "en": "Area"},
    "month": {"id": "Bulan", "en": "Month"},
    "channel": {"id": "Kanal", "en": "Channel"},
    "confidentiality": {"id": "Kerahasiaan", "en": "Confidentiality"},
    "report_text": {"id": "Isi laporan", "en": "Report"},
    "timeline": {"id": "Riwayat", "en": "Timeline"},
    "no_timeline": {"id": "Belum ada riwayat.", "en": "No history yet."},
    "untitled": {"id": "Laporan tanpa judul", "en": "Untitled report"},
    "report": {"id": "Laporan", "en": "Report"},
    "back": {"id": "Kembali ke daftar laporan", "en": "Back to the report list"},
    "not_found_title": {"id": "Laporan tidak ditemukan", "en": "Report not found"},
    "not_found_text": {
        "id": "Laporan ini tidak ada atau tidak (lagi) publik.",
        "en": "This report does not exist or is not (or no longer) public.",
    },
    "previous": {"id": "Sebelumnya", "en": "Previous"},
    "next": {"id": "Berikutnya", "en": "Next"},
    "pagination": {"id": "Halaman", "en": "Pages"},
    "filter": {"id": "Saring", "en": "Filter"},
    "all": {"id": "Semua", "en": "All"},
    "footer": {
        "id": "Data pelapor tidak pernah ditampilkan di portal ini.",
        "en": "Reporter data is never shown on this portal.",
    },
}

_MONTHS: dict[Language, tuple[str, ...]] = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def pick_language(requested: str | None) -> Language:
    """`?lang=en` switches to English; anything else (or nothing) is Indonesian."""
    return "en" if (requested or "").strip().lower() == "en" else "id"


def ui_strings(lang: Language) -> dict[str, str]:
    return {key: texts[lang] for key, texts in _STRINGS.items()}


def month_name(month: str, lang: Language) -> str:
    """`2026-03` -> `Maret 2026` / `March 2026`; anything unexpected is shown as it came."""
    year, _, number = month.partition("-")
    if not (year.isdigit() and number.isdigit() and 1 <= int(number) <= 12):
        return month
    return f"{_MONTHS[lang][int(number) - 1]} {year}"
