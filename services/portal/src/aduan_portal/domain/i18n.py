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
    "nav_main": {"id": "Navigasi utama", "en": "Main navigation"},
    "nav_reports": {"id": "Laporan", "en": "Reports"},
    "nav_stats": {"id": "Statistik", "en": "Statistics"},
    "nav_track": {"id": "Lacak laporan", "en": "Track my report"},
    "nav_open_data": {"id": "Data terbuka", "en": "Open data"},
    "filters_heading": {"id": "Saring laporan", "en": "Filter reports"},
    "period": {"id": "Periode", "en": "Period"},
    "month_from": {"id": "Dari bulan", "en": "From month"},
    "month_to": {"id": "Sampai bulan", "en": "To month"},
    "month_hint": {"id": "Format: TTTT-BB, mis. 2026-03", "en": "Format: YYYY-MM, e.g. 2026-03"},
    "area_hint": {"id": "Kelurahan atau kecamatan", "en": "Sub-district or district"},
    "apply": {"id": "Terapkan", "en": "Apply"},
    "clear": {"id": "Hapus saringan", "en": "Clear filters"},
    "ignored_filters": {
        "id": "Sebagian saringan tidak sah dan diabaikan",
        "en": "Some filters were not valid and were ignored",
    },
    "result_count": {"id": "{n} laporan ditemukan", "en": "{n} reports found"},
    "page_of": {"id": "Halaman {page} dari {pages}", "en": "Page {page} of {pages}"},
    "map_heading": {"id": "Peta laporan", "en": "Map of reports"},
    "map_note": {
        "id": "Titik di peta dibulatkan ke kisi sekitar 1 km; lokasi persis tidak pernah "
        "ditampilkan. Laporan tanpa lokasi tidak muncul di peta.",
        "en": "Map points are rounded to a grid of about 1 km; the exact location is never "
        "shown. Reports without a location are not on the map.",
    },
    "map_unavailable": {
        "id": "Peta tidak tersedia saat ini. Daftar laporan di bawah tetap lengkap.",
        "en": "The map is not available right now. The list below is complete.",
    },
    "map_noscript": {
        "id": "Peta memerlukan JavaScript. Daftar laporan di bawah tetap lengkap.",
        "en": "The map needs JavaScript. The list below is complete.",
    },
    "map_label": {
        "id": "Peta lokasi laporan (dibulatkan)",
        "en": "Map of report locations (rounded)",
    },
    "open_report": {"id": "Buka laporan", "en": "Open report"},
    "list_heading": {"id": "Daftar laporan", "en": "Report list"},
    "download": {"id": "Unduh hasil ini", "en": "Download these results"},
    "stats_heading": {"id": "Statistik laporan publik", "en": "Public report statistics"},
    "stats_intro": {
        "id": "Dihitung dari semua laporan publik di portal ini.",
        "en": "Computed from all public reports on this portal.",
    },
    "total_reports": {"id": "Jumlah laporan", "en": "Reports"},
    "share_completed": {"id": "Selesai", "en": "Completed"},
    "median_completion": {
        "id": "Median waktu penyelesaian",
        "en": "Median time to completion",
    },
    "no_completed": {"id": "belum ada yang selesai", "en": "none completed yet"},
    "hours": {"id": "jam", "en": "hours"},
    "days": {"id": "hari", "en": "days"},
    "by_channel": {"id": "Laporan per kanal", "en": "Reports per channel"},
    "by_agency": {"id": "Laporan per instansi", "en": "Reports per agency"},
    "by_category": {"id": "Laporan per kategori", "en": "Reports per category"},
    "trend": {"id": "Laporan per bulan", "en": "Reports per month"},
    "count": {"id": "Jumlah", "en": "Count"},
    "show_table": {"id": "Tampilkan sebagai tabel", "en": "Show as a table"},
    "unassigned": {"id": "(belum ditetapkan)", "en": "(not assigned)"},
    "no_data": {"id": "Belum ada data.", "en": "No data yet."},
    "track_heading": {"id": "Lacak laporan", "en": "Track my report"},
    "track_intro": {
        "id": "Masukkan kode tanda terima yang Anda terima saat melapor (mis. ADU-7K3M-9Q2P).",
        "en": "Enter the receipt code you were given when you reported (e.g. ADU-7K3M-9Q2P).",
    },
    "receipt_code": {"id": "Kode tanda terima", "en": "Receipt code"},
    "track_submit": {"id": "Lacak", "en": "Track"},
    "track_invalid": {
        "id": "Kode tanda terima hanya berisi huruf, angka dan tanda hubung.",
        "en": "A receipt code has only letters, digits and hyphens.",
    },
    "track_unknown": {
        "id": "Tidak ada laporan dengan kode tanda terima ini. Periksa kembali kodenya.",
        "en": "There is no report with this receipt code. Please check the code.",
    },
    "track_limited": {
        "id": "Terlalu banyak permintaan. Silakan coba lagi beberapa menit lagi.",
        "en": "Too many requests. Please try again in a few minutes.",
    },
    "track_unavailable": {
        "id": "Layanan pelacakan sedang tidak dapat dihubungi. Silakan coba lagi nanti.",
        "en": "The tracking service cannot be reached right now. Please try again later.",
    },
    "track_received_month": {"id": "Diterima", "en": "Received"},
    "track_public_link": {
        "id": "Lihat halaman publik laporan ini",
        "en": "See this report's public page",
    },
    "track_private": {
        "id": "Laporan ini tidak dipublikasikan; hanya statusnya yang ditampilkan di sini.",
        "en": "This report is not public; only its status is shown here.",
    },
    "track_questions": {
        "id": "Petugas mengirim pertanyaan ke kontak Anda ({count} belum dijawab). Buka tautan "
        "di pesan itu untuk membaca dan menjawabnya.",
        "en": "An officer sent a question to your contact ({count} not answered yet). Open the "
        "link in that message to read and answer it.",
    },
    "question_heading": {"id": "Pertanyaan dari petugas", "en": "A question from the officer"},
    "question_intro": {
        "id": "Petugas yang menangani laporan {code} bertanya kepada Anda pada {day}:",
        "en": "The officer handling report {code} asked you on {day}:",
    },
    "question_answer_label": {"id": "Jawaban Anda", "en": "Your answer"},
    "question_answer_hint": {
        "id": "Jawaban Anda masuk ke laporan dan hanya dibaca petugas. Jangan tulis nomor "
        "telepon atau alamat e-mail: petugas tidak memerlukannya.",
        "en": "Your answer goes onto the report and is read by officers only. Do not write a "
        "phone number or e-mail address: officers do not need them.",
    },
    "question_send": {"id": "Kirim jawaban", "en": "Send answer"},
    "question_sent": {
        "id": "Terima kasih. Jawaban Anda sudah kami terima dan diteruskan ke petugas.",
        "en": "Thank you. We received your answer and passed it to the officer.",
    },
    "question_answered": {
        "id": "Pertanyaan ini sudah dijawab. Terima kasih.",
        "en": "This question has already been answered. Thank you.",
    },
    "question_closed": {
        "id": "Laporan ini sudah ditutup; pertanyaan ini tidak dapat dijawab lagi.",
        "en": "This report is closed; the question can no longer be answered.",
    },
    "question_unknown": {
        "id": "Tautan pertanyaan ini tidak dikenal. Periksa kembali tautan di pesan Anda.",
        "en": "This question link is not known. Please check the link in your message.",
    },
    "question_empty": {"id": "Tulis jawaban Anda.", "en": "Please write your answer."},
    "question_too_long": {
        "id": "Jawaban terlalu panjang (paling banyak 4000 karakter).",
        "en": "The answer is too long (4000 characters at most).",
    },
    "question_send_again": {
        "id": "Jawaban ini belum terkirim. Periksa lalu kirim sekali lagi.",
        "en": "This answer was not sent yet. Check it and send it once more.",
    },
    "question_track_link": {"id": "Pantau laporan {code}", "en": "Track report {code}"},
    "open_data_heading": {"id": "Data terbuka", "en": "Open data"},
    "open_data_intro": {
        "id": "Laporan publik dapat diunduh bebas sebagai CSV atau GeoJSON, dengan saringan "
        "yang sama seperti daftar laporan. Tidak ada data pribadi, waktu persis atau lokasi "
        "persis di dalamnya: tanggal hanya bulan, lokasi hanya wilayah dan titik kisi ~1 km.",
        "en": "Public reports can be downloaded freely as CSV or GeoJSON, with the same filters "
        "as the report list. They contain no personal data, exact times or exact locations: "
        "dates are months only, places are the area and a ~1 km grid point.",
    },
    "all_reports": {"id": "Semua laporan publik", "en": "All public reports"},
    "columns": {"id": "Kolom", "en": "Columns"},
    "column": {"id": "Kolom", "en": "Column"},
    "meaning": {"id": "Arti", "en": "Meaning"},
    "licence": {
        "id": "Isi laporan ditulis warga dan disaring dari data pribadi oleh sistem.",
        "en": "Report texts are written by citizens and scrubbed of personal data by the system.",
    },
    "filter_link": {"id": "Laporan dengan saringan ini", "en": "Reports with these filters"},
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
