"""Fixed UI strings in Indonesian (default) and English.

Only the portal's own words are translated. Report content is shown as the gateway published
it; status labels come from the contract's status vocabulary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from aduan_kit.redaction import HIDDEN

__all__ = [
    "CITY_ZONE",
    "LANGUAGES",
    "Language",
    "city_date",
    "hidden_marks",
    "month_name",
    "pick_language",
    "ui_strings",
]

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
    "area_list": {"id": "Kota / kecamatan", "en": "City / district"},
    "area_whole": {"id": "seluruhnya", "en": "all of it"},
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
    "by_area": {"id": "Laporan per kota", "en": "Reports per city"},
    "area_kota": {"id": "Kota / kabupaten", "en": "City / regency"},
    "area_unknown": {"id": "Wilayah belum diketahui", "en": "Area not known"},
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
    "track_pending": {
        "id": "Laporan Anda sudah kami terima dan sedang dicatat. Halaman ini dimuat ulang "
        "sendiri dalam beberapa detik.",
        "en": "We have your report and are recording it. This page reloads itself in a few "
        "seconds.",
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
    "nearby_heading": {"id": "Sudah dilaporkan?", "en": "Already reported?"},
    "nearby_hint": {
        "id": "Laporan publik yang masih dikerjakan di dekat titik Anda, kategori yang sama. "
        "Kalau masalahnya sama, ikuti laporan itu: Anda dikabari perkembangannya.",
        "en": "Public reports still being worked on near your point, same category. If it is "
        "the same problem, follow that report: you will hear how it progresses.",
    },
    "nearby_distance": {"id": "sekitar {m} m", "en": "about {m} m"},
    "nearby_follow": {"id": "Saya juga mengalami ini", "en": "Me too"},
    "nearby_following": {
        "id": "Laporan Anda akan digabung dengan \u201c{title}\u201d. Kirim laporan seperti "
        "biasa; tinggalkan kontak agar kami dapat mengabari Anda.",
        "en": "Your report will be joined to \u201c{title}\u201d. Send it as usual; leave a "
        "contact so we can tell you how it goes.",
    },
    "nearby_open": {"id": "Lihat", "en": "View"},
    "nearby_cancel": {"id": "Bukan masalah yang sama", "en": "Not the same problem"},
    "filed_follows": {
        "id": "Laporan Anda digabung dengan laporan yang sudah ada tentang masalah yang sama; "
        "Anda akan dikabari perkembangannya.",
        "en": "Your report was joined to the existing report about the same problem; you will "
        "hear how it progresses.",
    },
    "report_where": {"id": "Di mana", "en": "Where"},
    "report_where_label": {"id": "Peta wilayah laporan", "en": "Map of the report's area"},
    "report_where_note": {
        "id": "Lingkaran menunjukkan wilayah sekitar 1 km, bukan titik persisnya.",
        "en": "The circle shows an area of about 1 km, not the exact spot.",
    },
    "nav_file": {"id": "Laporkan masalah", "en": "Report a problem"},
    "file_heading": {"id": "Laporkan masalah", "en": "Report a problem"},
    "file_intro": {
        "id": "Ceritakan masalahnya dan tunjukkan tempatnya. Laporan Anda privat kecuali Anda "
        "memilih menampilkannya di portal; nama dan kontak Anda tidak pernah ditampilkan "
        "kepada petugas atau publik.",
        "en": "Tell us the problem and show us where it is. Your report is private unless you "
        "choose to show it on the portal; your name and contact are never shown to officers "
        "or the public.",
    },
    "file_what": {"id": "Apa masalahnya?", "en": "What is the problem?"},
    "file_title": {"id": "Judul singkat", "en": "Short title"},
    "file_text": {"id": "Ceritakan masalahnya", "en": "Describe the problem"},
    "file_text_hint": {
        "id": "Apa yang terjadi, sejak kapan, seberapa parah. 10–5000 karakter.",
        "en": "What happened, since when, how bad. 10–5000 characters.",
    },
    "file_category": {"id": "Kategori", "en": "Category"},
    "file_category_other": {
        "id": "Lainnya / tidak tahu (petugas memilihkan)",
        "en": "Other / not sure (an officer will choose)",
    },
    "file_where": {"id": "Di mana?", "en": "Where is it?"},
    "file_map_hint": {
        "id": "Ketuk peta di tempat masalahnya, atau gunakan lokasi Anda sekarang.",
        "en": "Tap the map where the problem is, or use your current location.",
    },
    "file_use_location": {"id": "Gunakan lokasi saya", "en": "Use my location"},
    "file_clear_point": {"id": "Hapus titik", "en": "Remove the point"},
    "file_point_none": {"id": "Belum ada titik di peta.", "en": "No point on the map yet."},
    "file_point_set": {"id": "Titik dipilih:", "en": "Point chosen:"},
    "file_locating": {"id": "Mencari lokasi Anda…", "en": "Finding your location…"},
    "file_locate_failed": {
        "id": "Lokasi Anda tidak dapat dibaca. Ketuk peta atau tulis kelurahannya.",
        "en": "Your location could not be read. Tap the map or type the area.",
    },
    "file_area": {"id": "Kelurahan / kecamatan", "en": "Kelurahan / kecamatan (area)"},
    "file_area_hint": {
        "id": "Ketik beberapa huruf lalu pilih dari daftar.",
        "en": "Type a few letters and pick from the list.",
    },
    "file_address": {"id": "Alamat atau patokan", "en": "Address or landmark"},
    "file_photos": {"id": "Foto", "en": "Photos"},
    "file_photos_hint": {
        "id": "Paling banyak {n} foto JPEG, PNG atau WebP, masing-masing sampai 10 MB. Data "
        "lokasi dan perangkat di foto dihapus.",
        "en": "Up to {n} JPEG, PNG or WebP photos, 10 MB each. Location and device data in "
        "photos are removed.",
    },
    "file_photos_again": {
        "id": "Foto yang tadi dipilih belum terkirim: pilih lagi sebelum mengirim.",
        "en": "The photos you chose were not sent: choose them again before sending.",
    },
    "file_about_you": {"id": "Tentang Anda", "en": "About you"},
    "file_about_you_hint": {
        "id": "Untuk mengabari perkembangan laporan Anda. Tidak pernah ditampilkan kepada "
        "petugas atau publik.",
        "en": "So we can tell you how your report progresses. Never shown to officers or the "
        "public.",
    },
    "file_name": {"id": "Nama", "en": "Name"},
    "file_contact": {"id": "Nomor telepon atau e-mail", "en": "Phone number or e-mail"},
    "file_optional": {"id": "opsional", "en": "optional"},
    "file_visibility": {
        "id": "Siapa yang boleh melihat laporan ini?",
        "en": "Who may see this report?",
    },
    "file_private": {
        "id": "Privat (disarankan): hanya petugas yang menangani",
        "en": "Private (recommended): only the officers handling it",
    },
    "file_public": {
        "id": "Publik: tampil di portal tanpa nama dan kontak Anda",
        "en": "Public: shown on the portal without your name and contact",
    },
    "file_send": {"id": "Kirim laporan", "en": "Send report"},
    "file_err_summary": {"id": "Laporan belum terkirim.", "en": "The report was not sent."},
    "file_err_text": {
        "id": "Ceritakan masalahnya paling sedikit 10 karakter.",
        "en": "Please describe the problem in at least 10 characters.",
    },
    "file_err_text_long": {
        "id": "Ceritanya terlalu panjang: paling banyak 5000 karakter.",
        "en": "The description is too long: 5000 characters at most.",
    },
    "file_err_contact": {
        "id": "Kontak ini tidak dapat kami pakai. Tulis nomor telepon seperti 0812 3456 7890 "
        "atau alamat e-mail seperti nama@contoh.id, atau kosongkan.",
        "en": "We cannot use this contact. Write a phone number such as 0812 3456 7890 or an "
        "e-mail address such as name@example.com, or leave it empty.",
    },
    "file_err_location": {
        "id": "Titik di peta tidak valid. Ketuk peta sekali lagi.",
        "en": "The point on the map is not valid. Tap the map again.",
    },
    "file_err_photo_count": {
        "id": "Paling banyak {n} foto per laporan.",
        "en": "At most {n} photos per report.",
    },
    "file_err_photo_size": {
        "id": "Sebuah foto terlalu besar: paling besar 10 MB per foto.",
        "en": "A photo is too large: 10 MB per photo at most.",
    },
    "file_err_photo_type": {
        "id": "Foto harus JPEG, PNG atau WebP.",
        "en": "Photos must be JPEG, PNG or WebP.",
    },
    "file_err_photo_bad": {
        "id": "Sebuah foto tidak dapat dibuka. Pilih foto lain.",
        "en": "A photo could not be opened. Choose another one.",
    },
    "file_err_too_long": {"id": "Isian ini terlalu panjang.", "en": "This field is too long."},
    "file_err_category": {
        "id": "Kategori itu tidak lagi menerima aduan baru. Pilih kategori lain atau "
        "\u201cLainnya\u201d.",
        "en": "That category no longer takes new complaints. Choose another one or "
        "\u201cOther\u201d.",
    },
    "file_err_form": {
        "id": "Formulir tidak dapat dibaca. Periksa isian lalu kirim lagi.",
        "en": "The form could not be read. Check it and send it again.",
    },
    "file_err_limited": {
        "id": "Terlalu banyak laporan dari alamat ini. Tunggu satu menit lalu kirim lagi; isian "
        "Anda tetap di sini.",
        "en": "Too many reports from this address. Wait a minute and send again; what you "
        "typed is still here.",
    },
    "file_err_unavailable": {
        "id": "Layanan pengaduan sedang tidak dapat dihubungi. Coba kirim lagi sebentar lagi; "
        "isian Anda tetap di sini.",
        "en": "The complaint service cannot be reached right now. Try again shortly; what you "
        "typed is still here.",
    },
    "filed_heading": {"id": "Laporan Anda sudah kami terima", "en": "We have received your report"},
    "filed_again": {
        "id": "Laporan ini sudah terkirim sebelumnya; ini tanda terima yang sama.",
        "en": "This report was already sent; this is the same receipt.",
    },
    "filed_code": {"id": "Kode laporan Anda", "en": "Your report code"},
    "filed_keep": {
        "id": "Simpan kode ini untuk memantau laporan Anda. Jangan bagikan kepada orang lain.",
        "en": "Keep this code to track your report. Do not share it with anyone.",
    },
    "filed_track": {"id": "Pantau laporan ini", "en": "Track this report"},
    "filed_summary": {"id": "Yang Anda laporkan", "en": "What you reported"},
    "filed_notify": {
        "id": "Kami akan mengabari perkembangannya ke kontak yang Anda berikan.",
        "en": "We will tell you how it progresses on the contact you gave.",
    },
    "filed_no_contact": {
        "id": "Anda tidak meninggalkan kontak: pantau perkembangannya dengan kode ini.",
        "en": "You left no contact: follow its progress with this code.",
    },
    "filed_visibility_public": {
        "id": "Publik (tanpa nama dan kontak)",
        "en": "Public (without name and contact)",
    },
    "filed_visibility_private": {"id": "Privat", "en": "Private"},
    "filed_photos": {"id": "Foto", "en": "Photos"},
    "filed_point": {"id": "Titik di peta", "en": "Point on the map"},
    "yes": {"id": "ya", "en": "yes"},
    "no": {"id": "tidak", "en": "no"},
    "filed_another": {"id": "Laporkan masalah lain", "en": "Report another problem"},
    "filed_unknown": {"id": "Kode laporan tidak dikenal.", "en": "Unknown report code."},
    "prove_heading": {"id": "Laporan Anda sendiri?", "en": "Is this your report?"},
    "prove_hint": {
        "id": "Masukkan nomor telepon atau e-mail yang Anda berikan saat melapor untuk melihat "
        "isi laporan, alasan dan hasil tindak lanjutnya, memberi penilaian, membuka kembali, "
        "mengunduh atau menghapus data Anda.",
        "en": "Enter the phone number or e-mail you gave when reporting to see your report, "
        "the reasons and the outcome, rate the result, reopen it, or download or erase your "
        "data.",
    },
    "prove_send": {"id": "Lihat laporan saya", "en": "Show my report"},
    "reporter_contact_missing": {
        "id": "Tulis nomor telepon atau e-mail yang Anda berikan.",
        "en": "Please write the phone number or e-mail you gave.",
    },
    "reporter_no_match": {
        "id": "Kontak itu tidak cocok dengan laporan ini.",
        "en": "That contact does not match this report.",
    },
    "reporter_too_many": {
        "id": "Terlalu banyak percobaan. Tunggu sebentar lalu coba lagi.",
        "en": "Too many tries. Wait a while and try again.",
    },
    "reporter_signed_out": {
        "id": "Sesi Anda berakhir; tindakan itu belum dilakukan. Masukkan kontak Anda lagi.",
        "en": "Your session ended; that action was not done. Enter your contact again.",
    },
    "reporter_action_failed": {
        "id": "Tindakan itu belum dapat dilakukan. Muat ulang halaman lalu coba lagi.",
        "en": "That could not be done. Reload the page and try again.",
    },
    "reporter_sign_out": {"id": "Keluar", "en": "Sign out"},
    "mine_heading": {"id": "Laporan Anda", "en": "Your report"},
    "mine_history": {"id": "Yang sudah terjadi", "en": "What happened"},
    "mine_reason": {"id": "Alasan", "en": "Reason"},
    "mine_outcome": {"id": "Hasil tindak lanjut", "en": "What was done"},
    "rate_heading": {"id": "Nilai hasilnya", "en": "Rate the result"},
    "rate_current": {"id": "Penilaian Anda: {score} dari 5.", "en": "Your rating: {score} of 5."},
    "rate_1": {"id": "buruk", "en": "bad"},
    "rate_2": {"id": "kurang", "en": "poor"},
    "rate_3": {"id": "cukup", "en": "fair"},
    "rate_4": {"id": "baik", "en": "good"},
    "rate_5": {"id": "sangat baik", "en": "very good"},
    "rate_comment": {"id": "Komentar", "en": "Comment"},
    "rate_send": {"id": "Kirim penilaian", "en": "Send rating"},
    "rate_pick": {"id": "Pilih nilai 1 sampai 5.", "en": "Pick a score from 1 to 5."},
    "rated_done": {"id": "Terima kasih atas penilaian Anda.", "en": "Thank you for your rating."},
    "reopen_heading": {"id": "Masalahnya belum beres?", "en": "Not fixed after all?"},
    "reopen_hint": {
        "id": "Anda dapat membuka kembali laporan ini dalam 7 hari setelah selesai.",
        "en": "You can reopen this report within 7 days of its completion.",
    },
    "reopen_reason": {"id": "Apa yang belum beres?", "en": "What is still wrong?"},
    "reopen_send": {"id": "Buka kembali laporan", "en": "Reopen the report"},
    "reopen_reason_short": {
        "id": "Ceritakan paling sedikit 10 karakter apa yang belum beres.",
        "en": "Please say in at least 10 characters what is still wrong.",
    },
    "reopen_window_closed": {
        "id": "Batas waktu membuka kembali sudah lewat. Silakan buat laporan baru.",
        "en": "The time to reopen has passed. Please file a new report.",
    },
    "reopened_done": {
        "id": "Laporan dibuka kembali dan akan dikerjakan lagi.",
        "en": "The report was reopened and will be worked on again.",
    },
    "data_heading": {"id": "Data Anda", "en": "Your data"},
    "data_export": {
        "id": "Unduh semua data Anda dan siapa yang membacanya (JSON)",
        "en": "Download all your data and who read it (JSON)",
    },
    "erase_hint": {
        "id": "Hapus nama dan kontak Anda dari semua laporan Anda. Laporannya tetap ada tanpa "
        "identitas; kami tidak dapat mengabari Anda lagi.",
        "en": "Erase your name and contact from all your reports. The reports stay, without "
        "your identity; we can no longer tell you about them.",
    },
    "erase_confirm": {
        "id": "Ya, hapus identitas saya",
        "en": "Yes, erase my identity",
    },
    "erase_send": {"id": "Hapus data saya", "en": "Erase my data"},
    "erase_confirm_missing": {
        "id": "Centang kotak persetujuan untuk menghapus data Anda.",
        "en": "Tick the box to confirm erasing your data.",
    },
    "erased_done": {
        "id": "Permintaan penghapusan diterima: identitas Anda dihapus dari semua laporan.",
        "en": "Erasure requested: your identity is being erased from all your reports.",
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


# The city's clock (Jakarta, WIB, UTC+7): a citizen who filed at 02:00 on 6 December knows
# the report by that day, not by UTC's 5 December. The console and the public months use
# the same zone.
CITY_ZONE = timezone(timedelta(hours=7), "WIB")


# What the gateway puts where a name or a contact was (`aduan_kit.redaction.HIDDEN`), in the
# page's language: a reader of the English page is told in English that something was hidden.
_HIDDEN: dict[Language, str] = {"id": HIDDEN, "en": "[hidden]"}


def hidden_marks(text: str, lang: Language) -> str:
    """A report's public text with its "hidden" marks in the page's language (the text
    itself is the reporter's, never translated)."""
    return text.replace(HIDDEN, _HIDDEN[lang]) if lang != "id" and text else text


def city_date(moment: str, lang: Language) -> str:
    """An ISO timestamp -> the day it was in the city: `6 Desember 2026` / `6 December
    2026`; anything unexpected is shown as it came."""
    try:
        when = datetime.fromisoformat(moment)
    except (TypeError, ValueError):
        return moment
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the gateway's timestamps are UTC
    local = when.astimezone(CITY_ZONE)
    return f"{local.day} {_MONTHS[lang][local.month - 1]} {local.year}"


def month_name(month: str, lang: Language) -> str:
    """`2026-03` -> `Maret 2026` / `March 2026`; anything unexpected is shown as it came."""
    year, _, number = month.partition("-")
    if not (year.isdigit() and number.isdigit() and 1 <= int(number) <= 12):
        return month
    return f"{_MONTHS[lang][int(number) - 1]} {year}"
