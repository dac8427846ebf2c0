"""The officer console's words, Indonesian first (officers' working language), English too.

Status labels come from the gateway (verbatim); these are the console's own labels.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Literal, Protocol

from aduan_contracts.enums import ReportStatus

__all__ = [
    "CONSOLE_LANGUAGES",
    "ConsoleLanguage",
    "EvidenceFields",
    "console_strings",
    "evidence_text",
    "refusal_text",
    "role_name",
    "system_reason_text",
]

ConsoleLanguage = Literal["id", "en"]
CONSOLE_LANGUAGES: tuple[ConsoleLanguage, ...] = ("id", "en")

_ID: dict[str, str] = {
    "console": "Konsol Petugas Aduan",
    "skip": "Lewati ke isi",
    "login_title": "Masuk konsol petugas",
    "username": "Nama pengguna",
    "password": "Kata sandi",
    "login": "Masuk",
    "logout": "Keluar",
    "signed_in_as": "Masuk sebagai",
    "user_id": "ID pengguna",
    "reason_expired": "Sesi Anda telah berakhir. Silakan masuk lagi.",
    "reason_expired_action": (
        "Sesi Anda berakhir sebelum tindakan Anda dijalankan: tindakan itu BELUM dilakukan. "
        "Masuk lagi; Anda akan kembali ke laporan dengan teks yang tadi Anda ketik, lalu "
        "kirim ulang bila masih perlu."
    ),
    "draft_restored": (
        "Teks yang Anda ketik sebelum sesi berakhir sudah dikembalikan ke formulirnya. "
        "Tindakan itu belum dilakukan: periksa status laporan, lalu kirim ulang."
    ),
    "reason_required": "Silakan masuk untuk membuka konsol.",
    "reason_logged_out": "Anda telah keluar.",
    "login_failed": "Masuk gagal: {detail}",
    "login_not_staff": "Akun ini bukan akun petugas.",
    "csrf_failed": (
        "Formulir ini kedaluwarsa atau tidak berasal dari konsol. "
        "Muat ulang halaman lalu coba lagi."
    ),
    "home": "Beranda",
    "triage": "Antrean triase",
    "agency_queue": "Antrean instansi",
    "validation": "Antrean validasi",
    "admin": "Administrasi",
    "users": "Pengguna",
    "agencies": "Instansi",
    "categories": "Kategori",
    "access_log": "Log akses",
    "queue_empty": "Tidak ada laporan dalam antrean ini.",
    "report": "Laporan",
    "title": "Judul",
    "status": "Status",
    "category": "Kategori",
    "agency": "Instansi",
    "area": "Wilayah",
    "month": "Bulan",
    "received": "Diterima",
    "due": "Tenggat",
    "sla": "SLA",
    "sla_overdue": "Lewat tenggat",
    "sla_due_soon": "Segera jatuh tempo",
    "evidence": "Pemeriksaan bukti",
    "no_follow_up": "Belum ada tindak lanjut",
    "open": "Buka",
    "next_page": "Halaman berikutnya",
    "prev_page": "Halaman sebelumnya",
    "confidentiality": "Label kerahasiaan",
    "reporter": "Pelapor (pseudonim)",
    "channel": "Kanal",
    "privacy": "Privasi",
    "receipt": "Kode tanda terima",
    "address": "Alamat",
    "point": "Titik",
    "open_in_map": "Buka di peta",
    "dashboard": "Dasbor",
    "dashboard_hint": (
        "Angka gabungan saja: laporan rahasia ikut dihitung, tidak ada laporan yang ditampilkan."
    ),
    "whole_city": "Seluruh kota",
    "months": "Bulan terakhir",
    "open_reports": "Laporan terbuka",
    "overdue_total": "Lewat tenggat",
    "completed_per_month": "Selesai per bulan",
    "completed_count": "Selesai",
    "stages_heading": "Waktu per tahap dan ketepatan tenggat",
    "stage": "Tahap",
    "median_hours": "Median (jam)",
    "on_time_share": "Tepat waktu",
    "measured": "Langkah diukur",
    "no_data": "Belum ada data.",
    "stage_triage": "Verifikasi (admin tiket)",
    "stage_dispatch": "Disposisi ke instansi",
    "stage_follow_up": "Tindak lanjut instansi",
    "stage_validation": "Validasi",
    "select": "Pilih",
    "bulk_dispatch": "Disposisi sekaligus (laporan yang dicentang)",
    "bulk_submit": "Disposisikan yang dicentang",
    "bulk_none_msg": "Centang dulu laporan yang akan didisposisikan.",
    "bulk_ok": "{n} laporan didisposisikan.",
    "bulk_failed": "{n} laporan tidak didisposisikan:",
    "export_csv": "Unduh CSV",
    "reveal": "Buka identitas pelapor",
    "reveal_hint": (
        "Hanya bila benar-benar diperlukan (misalnya perintah pengadilan). Pembukaan ini "
        "dicatat di log akses bersama alasannya, dan pelapor dapat melihatnya dalam ekspor "
        "datanya."
    ),
    "reveal_submit": "Buka identitas",
    "reveal_reason_msg": "Alasan wajib diisi (minimal 10 karakter).",
    "reveal_logged": (
        "Identitas dibuka dan dicatat di log akses. Halaman ini tidak disimpan; jangan "
        "menyalin data ini ke tempat lain."
    ),
    "identity_name": "Nama",
    "identity_contact": "Kontak",
    "identity_handle": "Akun media sosial",
    "back_to_report": "Kembali ke laporan",
    "assignment": "Penugasan",
    "assigned_to": "Ditugaskan kepada",
    "not_assigned": "Belum ditugaskan kepada siapa pun.",
    "assign_to": "Tugaskan kepada",
    "nobody": "— tidak ada —",
    "me": "saya",
    "assign_submit": "Simpan penugasan",
    "assigned_ok": "Laporan ditugaskan kepada {name}.",
    "unassigned_ok": "Penugasan dihapus.",
    "my_reports": "Hanya laporan saya",
    "internal_notes": "Catatan internal",
    "internal_notes_hint": (
        "Hanya untuk petugas: tidak pernah terlihat oleh pelapor atau publik. Setiap "
        "pembacaan tercatat di log akses."
    ),
    "no_notes": "Belum ada catatan.",
    "sort_by": "Urutkan",
    "sort_due": "Tenggat terdekat",
    "sort_newest": "Terbaru",
    "label_private": "Privat",
    "label_public": "Publik — detail laporan dan data pelapor tidak boleh disebarluaskan",
    "hidden_marker": "[disembunyikan]",
    "conversation": "Tanya pelapor",
    "conversation_hint": (
        "Pertanyaan dikirim ke pelapor lewat kanal yang ia pakai; jawabannya masuk ke sini. "
        "Tidak ada yang melihat kontak pelapor."
    ),
    "no_conversation": "Belum ada pertanyaan atau pesan dari pelapor.",
    "question_label": "Pertanyaan",
    "answer_label": "Jawaban pelapor",
    "reporter_message_label": "Pesan pelapor",
    "from_reporter": "dari pelapor",
    "question_answered": "sudah dijawab",
    "question_waiting": "menunggu jawaban",
    "new_question": "Pertanyaan untuk pelapor",
    "new_question_hint": (
        "Tulis seperti kepada warga: jelas dan sopan, 10-1000 karakter. Jangan menanyakan "
        "data pribadi yang tidak diperlukan."
    ),
    "ask_reporter": "Kirim pertanyaan",
    "question_ok": "Pertanyaan dikirim ke pelapor.",
    "question_required_msg": "Tulis pertanyaannya (paling sedikit 10 karakter).",
    "question_refused": "Pertanyaan tidak dapat dikirim sekarang (lihat keterangan di bawah).",
    "why_not_no_contact": (
        "Pelapor tidak meninggalkan kontak (atau datanya sudah dihapus): tidak ada yang dapat "
        "ditanya."
    ),
    "why_not_closed": "Laporan sudah ditutup (ditolak atau digabung).",
    "why_not_too_many": "Tiga pertanyaan masih belum dijawab; tunggu jawaban pelapor.",
    "new_note": "Catatan baru",
    "add_note": "Simpan catatan",
    "note_ok": "Catatan tersimpan.",
    "open_photos": "Buka foto warga untuk saya",
    "open_photos_hint": (
        "Foto laporan rahasia terkunci untuk semua peran. Membukanya untuk Anda sendiri "
        "(1 jam) dicatat di log akses beserta alasannya. Untuk petugas lain, gunakan izin di "
        "bawah."
    ),
    "open_photos_submit": "Buka foto",
    "open_photos_ok": "Foto dibuka untuk Anda selama 1 jam (tercatat di log akses).",
    "open_photos_reason_msg": "Alasan wajib diisi (minimal 10 karakter).",
    "filter_queue": "Saring antrean",
    "all_statuses": "Semua status",
    "all_categories": "Semua kategori",
    "search_text": "Cari teks",
    "apply_filters": "Terapkan",
    "clear_filters": "Hapus saringan",
    "queue_empty_filtered": "Tidak ada laporan yang cocok dengan saringan ini.",
    "map_of_report": "Peta lokasi masalah",
    "queue_map": "Peta antrean",
    "text": "Isi laporan",
    "photos": "Foto",
    "photo": "Foto",
    "photos_locked": (
        "Foto laporan ini dikunci. Hanya petugas yang diberi akses oleh validator dapat melihatnya."
    ),
    "no_photos": "Tidak ada foto yang dapat ditampilkan.",
    "timeline": "Riwayat",
    "by": "oleh",
    "follow_up": "Tindak lanjut (TL)",
    "officer": "Petugas",
    "field_result": "Hasil verifikasi lapangan",
    "actions": "Tindakan",
    "no_actions": "Tidak ada tindakan untuk peran Anda pada status ini.",
    "note": "Catatan (opsional)",
    "reason": "Alasan (wajib)",
    "dispatch": "Disposisi ke instansi",
    "dispatch_submit": "Disposisikan",
    "choose_agency": "Pilih instansi",
    "category_optional": "Kategori (opsional)",
    "keep_category": "— tetap —",
    "coordinate": "Koordinasi",
    "coordinate_submit": "Mulai koordinasi",
    "reject": "Tolak laporan",
    "reject_submit": "Tolak",
    "merge": "Gabungkan dengan laporan lain",
    "duplicates": "Kemungkinan duplikat (dekat, kategori sama, 30 hari terakhir)",
    "no_duplicates": "Tidak ada kemungkinan duplikat.",
    "duplicates_unavailable": "Daftar duplikat tidak tersedia: {detail}",
    "distance": "Jarak",
    "typed_report_id": "Atau ketik ID laporan utama",
    "merge_submit": "Gabungkan",
    "accept": "Terima laporan",
    "accept_submit": "Terima",
    "return": "Kembalikan: bukan wewenang kami",
    "return_submit": "Kembalikan",
    "submit_follow_up": "Kirim tindak lanjut",
    "follow_up_note": "Catatan tindak lanjut (wajib)",
    "follow_up_photos": "Foto sesudah (boleh lebih dari satu; JPEG, PNG atau WebP)",
    "follow_up_submit": "Kirim TL",
    "resume": "Lanjutkan pengerjaan",
    "resume_submit": "Lanjutkan",
    "validate": "Validasi tindak lanjut",
    "validate_submit": "Validasi (selesai)",
    "reject_follow_up": "Tolak tindak lanjut",
    "reject_follow_up_submit": "Tolak TL",
    "order_fv": "Perintahkan verifikasi lapangan",
    "order_fv_submit": "Perintahkan verifikasi",
    "record_fv": "Catat hasil verifikasi lapangan",
    "fv_confirmed": "Apakah pekerjaan terbukti selesai di lapangan?",
    "fv_yes": "Ya, terbukti",
    "fv_no": "Tidak terbukti",
    "fv_result": "Hasil verifikasi (wajib)",
    "record_fv_submit": "Simpan hasil",
    "grants": "Akses foto",
    "grantee": "Petugas yang diberi akses",
    "grant_officer": "Petugas instansi laporan ini",
    "grant_officer_choose": "— pilih petugas —",
    "grantee_other": "Atau ID pengguna petugas lain",
    "grantee_other_hint": (
        "Hanya bila daftar di atas tidak dapat dimuat. Izin hanya untuk petugas aktif dari "
        "instansi yang menangani laporan ini."
    ),
    "no_officers": (
        "Belum ada petugas untuk dipilih: laporan ini belum didisposisikan ke instansi, "
        "atau instansinya belum punya petugas aktif. Izin hanya dapat diberikan kepada "
        "petugas aktif instansi yang menangani laporan."
    ),
    "grant_choose_one": "Pilih petugas dari daftar atau isi ID pengguna, jangan keduanya.",
    "hours": "Lama akses (jam)",
    "grant_reason": "Alasan (opsional)",
    "grant_submit": "Beri akses",
    "revoke_submit": "Cabut",
    "no_grants": "Belum ada akses foto yang diberikan.",
    "expires": "Berakhir",
    "active": "Aktif",
    "inactive": "Nonaktif",
    "yes": "Ya",
    "no": "Tidak",
    "action_ok": "Tindakan tercatat. Status sekarang: {status}.",
    "grant_ok": "Akses foto diberikan kepada {grantee}.",
    "revoke_ok": "Akses foto dicabut.",
    "moderation": "Moderasi portal publik",
    "moderation_hint": "Laporan publik ini tampil di portal. Sembunyikan bila tidak layak "
    "tampil, atau perbaiki judul dan teks publiknya (nama orang lain, alamat rumah). "
    "Tercatat di log akses.",
    "moderation_hide": "Sembunyikan dari portal",
    "moderation_show": "Tampilkan lagi di portal",
    "moderation_title": "Judul publik",
    "moderation_text": "Teks publik (wajib)",
    "moderation_correct": "Simpan perbaikan",
    "moderation_hidden_ok": "Laporan disembunyikan dari portal.",
    "moderation_shown_ok": "Laporan tampil lagi di portal.",
    "moderation_corrected_ok": "Judul dan teks publik diperbaiki.",
    "moderation_text_required_msg": "Teks publik wajib diisi.",
    "reason_required_msg": "Alasan wajib diisi (minimal 3 karakter).",
    "note_required_msg": "Catatan tindak lanjut wajib diisi (minimal 3 karakter).",
    "agency_required_msg": "Pilih instansi tujuan.",
    "merge_target_msg": "Pilih laporan duplikat atau ketik ID laporan utama yang valid.",
    "fv_required_msg": "Pilih hasil verifikasi dan isi keterangannya.",
    "grant_required_msg": "Pilih petugas (atau isi ID penggunanya) dan lama akses (jam).",
    "photo_too_big": "Foto {name} terlalu besar.",
    "err_conflict": (
        "Tindakan tidak dapat dilakukan karena status laporan sudah berubah atau tidak "
        "mengizinkannya: {detail}. Muat ulang halaman untuk melihat status terbaru."
    ),
    "err_forbidden": "Anda tidak berwenang melakukan ini: {detail}",
    "err_not_found": "Tidak ditemukan: {detail}",
    "err_invalid": "Isian belum benar: {detail}",
    "err_unavailable": "Layanan sedang tidak dapat dihubungi: {detail}. Coba lagi sebentar lagi.",
    "err_refused": "Permintaan ditolak: {detail}",
    "wrong_role": "Halaman ini bukan untuk peran Anda.",
    "error": "Terjadi kesalahan",
    "back_home": "Kembali ke beranda",
    "user_list": "Daftar pengguna",
    "create_user": "Buat pengguna",
    "display_name": "Nama tampilan",
    "role": "Peran",
    "agency_optional": "Instansi (wajib untuk petugas instansi)",
    "no_agency": "— tanpa instansi —",
    "create_submit": "Buat",
    "deactivate": "Nonaktifkan",
    "reactivate": "Aktifkan lagi",
    "user_created": "Pengguna {username} dibuat.",
    "user_updated": "Pengguna diperbarui.",
    "agency_list": "Daftar instansi",
    "create_agency": "Buat instansi",
    "agency_id": "ID instansi (huruf kecil, angka, tanda hubung)",
    "agency_name": "Nama instansi",
    "agency_created": "Instansi {agency_id} dibuat.",
    "category_list": "Daftar kategori",
    "category_code": "Kode kategori",
    "name_id": "Nama (Indonesia)",
    "name_en": "Nama (Inggris)",
    "routing_agency": "Instansi tujuan otomatis",
    "save": "Simpan",
    "delete": "Hapus",
    "add_category": "Tambah kategori",
    "category_saved": "Kategori {code} disimpan.",
    "category_deleted": "Kategori {code} dihapus.",
    "category_code_msg": "Kode kategori: huruf kecil, angka dan tanda hubung.",
    "unavailable_list": "Daftar tidak tersedia: {detail}",
    "filter": "Saring",
    "report_id": "ID laporan",
    "actor": "Pelaku (nama pengguna)",
    "actor_unknown": (
        "Tidak ada akun staf dengan nama pengguna atau nama {actor}; dicari sebagai ID internal."
    ),
    "at": "Waktu",
    "fields": "Kolom yang dibaca",
    "no_entries": "Tidak ada entri.",
    "access_log_note": (
        "Entri terbaru lebih dulu. Saring menurut ID laporan, nama pengguna petugas, atau keduanya."
    ),
    "language": "Bahasa",
    "go_to_report": "Buka laporan menurut ID",
    "lang_code": "id",
    "go_to_report_or_receipt": "Buka laporan menurut ID atau kode tanda terima",
    "go_not_found": "Tidak ada laporan dengan ID atau kode tanda terima {detail}.",
    "go_receipt_not_yours": (
        "Kode tanda terima hanya dapat dicari oleh admin tiket, validator, dan administrator; "
        "buka laporan menurut ID-nya."
    ),
    "go": "Buka",
    "applying": "Perubahan sedang diterapkan; halaman ini dimuat ulang otomatis.",
}

_EN: dict[str, str] = {
    "console": "Aduan Officer Console",
    "skip": "Skip to content",
    "login_title": "Officer console sign-in",
    "username": "Username",
    "password": "Password",
    "login": "Sign in",
    "logout": "Sign out",
    "signed_in_as": "Signed in as",
    "user_id": "User id",
    "reason_expired": "Your session has expired. Please sign in again.",
    "reason_expired_action": (
        "Your session ended before your action was carried out: it has NOT been done. "
        "Sign in again; you will be back on the report with the text you typed, to send "
        "again if it is still needed."
    ),
    "draft_restored": (
        "The text you typed before your session ended is back in its form. The action has "
        "not been done: check the report's status, then send it again."
    ),
    "reason_required": "Please sign in to open the console.",
    "reason_logged_out": "You have signed out.",
    "login_failed": "Sign-in failed: {detail}",
    "login_not_staff": "This account is not an officer account.",
    "csrf_failed": "This form has expired or did not come from the console. Reload and try again.",
    "home": "Home",
    "triage": "Triage queue",
    "agency_queue": "Agency queue",
    "validation": "Validation queue",
    "admin": "Administration",
    "users": "Users",
    "agencies": "Agencies",
    "categories": "Categories",
    "access_log": "Access log",
    "queue_empty": "No reports in this queue.",
    "report": "Report",
    "title": "Title",
    "status": "Status",
    "category": "Category",
    "agency": "Agency",
    "area": "Area",
    "month": "Month",
    "received": "Received",
    "due": "Due",
    "sla": "SLA",
    "sla_overdue": "Overdue",
    "sla_due_soon": "Due soon",
    "evidence": "Evidence check",
    "no_follow_up": "No follow-up yet",
    "open": "Open",
    "next_page": "Next page",
    "prev_page": "Previous page",
    "confidentiality": "Confidentiality label",
    "reporter": "Reporter (pseudonym)",
    "channel": "Channel",
    "privacy": "Privacy",
    "receipt": "Receipt code",
    "address": "Address",
    "point": "Point",
    "open_in_map": "Open in a map",
    "dashboard": "Dashboard",
    "dashboard_hint": ("Aggregates only: private reports are counted, no report is shown."),
    "whole_city": "Whole city",
    "months": "Last months",
    "open_reports": "Open reports",
    "overdue_total": "Overdue",
    "completed_per_month": "Completed per month",
    "completed_count": "Completed",
    "stages_heading": "Time per stage and deadlines met",
    "stage": "Stage",
    "median_hours": "Median (hours)",
    "on_time_share": "On time",
    "measured": "Steps measured",
    "no_data": "No data yet.",
    "stage_triage": "Triage (ticket admin)",
    "stage_dispatch": "Dispatch to the agency",
    "stage_follow_up": "Agency follow-up",
    "stage_validation": "Validation",
    "select": "Select",
    "bulk_dispatch": "Dispatch several at once (the ticked reports)",
    "bulk_submit": "Dispatch the ticked reports",
    "bulk_none_msg": "Tick the reports to dispatch first.",
    "bulk_ok": "{n} reports dispatched.",
    "bulk_failed": "{n} reports were not dispatched:",
    "export_csv": "Download CSV",
    "reveal": "Reveal the reporter's identity",
    "reveal_hint": (
        "Only when truly needed (a court order, for instance). The reveal is written to the "
        "access log with your reason, and the reporter sees it in their data export."
    ),
    "reveal_submit": "Reveal identity",
    "reveal_reason_msg": "A reason is required (at least 10 characters).",
    "reveal_logged": (
        "The identity was opened and written to the access log. This page is not stored; "
        "do not copy these details elsewhere."
    ),
    "identity_name": "Name",
    "identity_contact": "Contact",
    "identity_handle": "Social media account",
    "back_to_report": "Back to the report",
    "assignment": "Assignment",
    "assigned_to": "Assigned to",
    "not_assigned": "Not assigned to anyone yet.",
    "assign_to": "Assign to",
    "nobody": "— nobody —",
    "me": "me",
    "assign_submit": "Save assignment",
    "assigned_ok": "Report assigned to {name}.",
    "unassigned_ok": "Assignment cleared.",
    "my_reports": "Only my reports",
    "internal_notes": "Internal notes",
    "internal_notes_hint": (
        "Officers only: never shown to the reporter or the public. Every read is written "
        "to the access log."
    ),
    "no_notes": "No notes yet.",
    "sort_by": "Sort by",
    "sort_due": "Nearest due date",
    "sort_newest": "Newest",
    "label_private": "Private",
    "label_public": "Public — do not spread the report's details or the reporter's data",
    "hidden_marker": "[hidden]",
    "conversation": "Ask the reporter",
    "conversation_hint": (
        "The question goes to the reporter on the channel they used; the answer comes back "
        "here. Nobody sees the reporter's contact."
    ),
    "no_conversation": "No questions or messages from the reporter yet.",
    "question_label": "Question",
    "answer_label": "Reporter's answer",
    "reporter_message_label": "Reporter's message",
    "from_reporter": "from the reporter",
    "question_answered": "answered",
    "question_waiting": "waiting for an answer",
    "new_question": "Question for the reporter",
    "new_question_hint": (
        "Write as to a citizen: clear and polite, 10-1000 characters. Do not ask for "
        "personal data you do not need."
    ),
    "ask_reporter": "Send question",
    "question_ok": "The question was sent to the reporter.",
    "question_required_msg": "Write the question (at least 10 characters).",
    "question_refused": "The question cannot be sent now (see the note below).",
    "why_not_no_contact": (
        "The reporter left no contact (or their data was erased): nobody can be asked."
    ),
    "why_not_closed": "The report is closed (rejected or merged).",
    "why_not_too_many": "Three questions are still unanswered; wait for the reporter's answer.",
    "new_note": "New note",
    "add_note": "Save note",
    "note_ok": "Note saved.",
    "open_photos": "Open the citizen's photos for me",
    "open_photos_hint": (
        "A private report's photos are locked for every role. Opening them for yourself "
        "(1 hour) is written to the access log with your reason. For another officer, use "
        "a grant below."
    ),
    "open_photos_submit": "Open photos",
    "open_photos_ok": "Photos opened for you for 1 hour (written to the access log).",
    "open_photos_reason_msg": "A reason is required (at least 10 characters).",
    "filter_queue": "Filter the queue",
    "all_statuses": "All statuses",
    "all_categories": "All categories",
    "search_text": "Search text",
    "apply_filters": "Apply",
    "clear_filters": "Clear filters",
    "queue_empty_filtered": "No report matches these filters.",
    "map_of_report": "Map of the problem's location",
    "queue_map": "Map of this queue",
    "text": "Report text",
    "photos": "Photos",
    "photo": "Photo",
    "photos_locked": (
        "This report's photos are locked. Only officers granted access by a validator can see them."
    ),
    "no_photos": "No photos to show.",
    "timeline": "History",
    "by": "by",
    "follow_up": "Follow-up (TL)",
    "officer": "Officer",
    "field_result": "Field verification result",
    "actions": "Actions",
    "no_actions": "No actions for your role in this status.",
    "note": "Note (optional)",
    "reason": "Reason (required)",
    "dispatch": "Dispatch to an agency",
    "dispatch_submit": "Dispatch",
    "choose_agency": "Choose an agency",
    "category_optional": "Category (optional)",
    "keep_category": "— keep —",
    "coordinate": "Coordination",
    "coordinate_submit": "Start coordination",
    "reject": "Reject the report",
    "reject_submit": "Reject",
    "merge": "Merge into another report",
    "duplicates": "Possible duplicates (nearby, same category, last 30 days)",
    "no_duplicates": "No possible duplicates.",
    "duplicates_unavailable": "Duplicate list unavailable: {detail}",
    "distance": "Distance",
    "typed_report_id": "Or type the primary report's id",
    "merge_submit": "Merge",
    "accept": "Accept the report",
    "accept_submit": "Accept",
    "return": "Return: not ours",
    "return_submit": "Return",
    "submit_follow_up": "Submit a follow-up",
    "follow_up_note": "Follow-up note (required)",
    "follow_up_photos": "After-photos (several allowed; JPEG, PNG or WebP)",
    "follow_up_submit": "Submit follow-up",
    "resume": "Resume work",
    "resume_submit": "Resume",
    "validate": "Validate the follow-up",
    "validate_submit": "Validate (complete)",
    "reject_follow_up": "Reject the follow-up",
    "reject_follow_up_submit": "Reject follow-up",
    "order_fv": "Order a field verification",
    "order_fv_submit": "Order verification",
    "record_fv": "Record the field verification",
    "fv_confirmed": "Was the work confirmed in the field?",
    "fv_yes": "Yes, confirmed",
    "fv_no": "Not confirmed",
    "fv_result": "Verification result (required)",
    "record_fv_submit": "Save result",
    "grants": "Photo access",
    "grantee": "Officer let in",
    "grant_officer": "Officer of this report's agency",
    "grant_officer_choose": "— choose an officer —",
    "grantee_other": "Or the user id of another officer",
    "grantee_other_hint": (
        "Only when the list above cannot be loaded. Grants are for active officers of the "
        "agency handling this report."
    ),
    "no_officers": (
        "No officers to choose from: this report is not dispatched to an agency yet, or its "
        "agency has no active officers. Access can only be granted to active officers of "
        "the agency handling the report."
    ),
    "grant_choose_one": "Choose an officer from the list or give a user id, not both.",
    "hours": "Access for (hours)",
    "grant_reason": "Reason (optional)",
    "grant_submit": "Grant access",
    "revoke_submit": "Revoke",
    "no_grants": "No photo access granted yet.",
    "expires": "Expires",
    "active": "Active",
    "inactive": "Inactive",
    "yes": "Yes",
    "no": "No",
    "action_ok": "Action recorded. The status is now: {status}.",
    "grant_ok": "Photo access granted to {grantee}.",
    "revoke_ok": "Photo access revoked.",
    "moderation": "Public portal moderation",
    "moderation_hint": "This public report is shown on the portal. Hide it when it must not be "
    "shown, or correct its public title and text (other people's names, home addresses). "
    "Recorded in the access log.",
    "moderation_hide": "Hide from the portal",
    "moderation_show": "Show on the portal again",
    "moderation_title": "Public title",
    "moderation_text": "Public text (required)",
    "moderation_correct": "Save the correction",
    "moderation_hidden_ok": "The report is hidden from the portal.",
    "moderation_shown_ok": "The report is shown on the portal again.",
    "moderation_corrected_ok": "The public title and text are corrected.",
    "moderation_text_required_msg": "The public text is required.",
    "reason_required_msg": "A reason is required (at least 3 characters).",
    "note_required_msg": "A follow-up note is required (at least 3 characters).",
    "agency_required_msg": "Choose the agency to dispatch to.",
    "merge_target_msg": "Choose a duplicate or type a valid primary report id.",
    "fv_required_msg": "Choose the verification outcome and describe it.",
    "grant_required_msg": "Choose the officer (or give their user id) and the duration (hours).",
    "photo_too_big": "Photo {name} is too large.",
    "err_conflict": (
        "This cannot be done because the report's status has changed or does not allow it: "
        "{detail}. Reload the page to see the current status."
    ),
    "err_forbidden": "You may not do this: {detail}",
    "err_not_found": "Not found: {detail}",
    "err_invalid": "Please check the input: {detail}",
    "err_unavailable": "The service cannot be reached right now: {detail}. Try again shortly.",
    "err_refused": "The request was refused: {detail}",
    "wrong_role": "This page is not for your role.",
    "error": "Something went wrong",
    "back_home": "Back to home",
    "user_list": "Users",
    "create_user": "Create a user",
    "display_name": "Display name",
    "role": "Role",
    "agency_optional": "Agency (required for agency officers)",
    "no_agency": "— no agency —",
    "create_submit": "Create",
    "deactivate": "Deactivate",
    "reactivate": "Reactivate",
    "user_created": "User {username} created.",
    "user_updated": "User updated.",
    "agency_list": "Agencies",
    "create_agency": "Create an agency",
    "agency_id": "Agency id (lower-case letters, digits, dashes)",
    "agency_name": "Agency name",
    "agency_created": "Agency {agency_id} created.",
    "category_list": "Categories",
    "category_code": "Category code",
    "name_id": "Name (Indonesian)",
    "name_en": "Name (English)",
    "routing_agency": "Routed automatically to",
    "save": "Save",
    "delete": "Delete",
    "add_category": "Add a category",
    "category_saved": "Category {code} saved.",
    "category_deleted": "Category {code} deleted.",
    "category_code_msg": "Category code: lower-case letters, digits and dashes.",
    "unavailable_list": "List unavailable: {detail}",
    "filter": "Filter",
    "report_id": "Report id",
    "actor": "Actor (username)",
    "actor_unknown": (
        "No staff account has the username or name {actor}; searched as an internal id."
    ),
    "at": "Time",
    "fields": "Fields read",
    "no_entries": "No entries.",
    "access_log_note": (
        "Newest entries first. Filter by report id, by an officer's username, or both."
    ),
    "language": "Language",
    "go_to_report": "Open a report by id",
    "lang_code": "en",
    "go_to_report_or_receipt": "Open a report by id or receipt code",
    "go_not_found": "No report has the id or receipt code {detail}.",
    "go_receipt_not_yours": (
        "Receipt codes can be looked up by ticket-admins, validators and administrators; "
        "open the report by its id."
    ),
    "go": "Open",
    "applying": "The change is being applied; this page reloads by itself.",
}

_ROLES = {
    "id": {
        "ticket-admin": "Admin tiket",
        "agency-officer": "Petugas instansi",
        "validator": "Validator",
        "administrator": "Administrator",
        # Workflow's own steps (routing, SLA timers) and the citizen: not "system"/"reporter".
        "system": "sistem (otomatis)",
        "reporter": "pelapor",
        "public": "publik",
    },
    "en": {
        "ticket-admin": "Ticket admin",
        "agency-officer": "Agency officer",
        "validator": "Validator",
        "administrator": "Administrator",
        "system": "the system (automatic)",
        "reporter": "the reporter",
        "public": "the public",
    },
}

# Privacy by name (officers read "Rahasia", never `private`). Channel names are the
# public pages' (rendering.channel_name).
_PRIVACY = {
    "id": {"private": "Rahasia (tidak tampil publik)", "public": "Publik"},
    "en": {"private": "Private (not shown publicly)", "public": "Public"},
}


def privacy_name(privacy: str, lang: ConsoleLanguage) -> str:
    return _PRIVACY["en" if lang == "en" else "id"].get(privacy, privacy)


def console_strings(lang: ConsoleLanguage) -> dict[str, str]:
    return _EN if lang == "en" else _ID


def role_name(role: str, lang: ConsoleLanguage) -> str:
    return _ROLES["en" if lang == "en" else "id"].get(role, role)


# --- workflow's words, said in the console's language ---------------------------------------
#
# Workflow writes its evidence summary and its own reasons in English (it has no UI
# language). The console renders the evidence check from its structured fields and
# translates the system reasons it knows by pattern; an officer's own words are never
# touched, and anything unrecognised is shown verbatim rather than hidden.


class EvidenceFields(Protocol):
    """The structured part of an evidence check (contract `EvidenceCheck`)."""

    @property
    def photos_checked(self) -> int: ...
    @property
    def newer_than_report(self) -> bool | None: ...
    @property
    def within_distance(self) -> bool | None: ...
    @property
    def max_distance_m(self) -> float | None: ...
    @property
    def nearest_distance_m(self) -> float | None: ...
    @property
    def summary(self) -> str: ...


_EVIDENCE: dict[ConsoleLanguage, dict[str, str]] = {
    "id": {
        "checked": "{n} foto diperiksa",
        "time_unknown": "tidak ada foto yang memuat waktu pengambilan",
        "time_after": "semua foto bertanggal diambil setelah laporan dibuat",
        "time_before": "ada foto yang diambil sebelum laporan dibuat",
        "place_unknown": "lokasi tidak dapat dibandingkan (laporan atau foto tanpa lokasi)",
        "place_within": "semua foto berlokasi dalam radius {max} m dari laporan",
        "place_beyond": "ada foto di luar radius {max} m dari laporan",
        "nearest": "terdekat {m} m",
    },
    "en": {
        "checked": "{n} photo(s) checked",
        "time_unknown": "no photo carries a capture time",
        "time_after": "every dated photo was taken after the report",
        "time_before": "some photo was taken before the report",
        "place_unknown": "location cannot be compared (the report or the photos have none)",
        "place_within": "every located photo is within {max} m of the report",
        "place_beyond": "some photo is beyond {max} m of the report",
        "nearest": "nearest {m} m",
    },
}


def _number(value: float, lang: ConsoleLanguage) -> str:
    text = f"{value:,.0f}" if value >= 1000 else f"{value:g}"
    if lang == "en":
        return text
    # Indonesian swaps the marks: 1.250 m, 12,5 m.
    return text.translate(str.maketrans(",.", ".,"))


def evidence_text(evidence: EvidenceFields, lang: ConsoleLanguage) -> str:
    """The evidence check as a sentence in the console's language, from its fields; the
    workflow's (English) summary only when the fields do not add up to a verdict."""
    w = _EVIDENCE["en" if lang == "en" else "id"]
    within, limit = evidence.within_distance, evidence.max_distance_m
    if within is not None and limit is None:
        return evidence.summary  # a verdict without its radius: say what workflow said
    parts = [w["checked"].format(n=evidence.photos_checked)]
    newer = evidence.newer_than_report
    parts.append(
        w["time_unknown"] if newer is None else w["time_after"] if newer else w["time_before"]
    )
    if within is None or limit is None:
        parts.append(w["place_unknown"])
    else:
        place = w["place_within" if within else "place_beyond"].format(max=_number(limit, lang))
        nearest = evidence.nearest_distance_m
        if nearest is not None:
            place += " (" + w["nearest"].format(m=_number(round(nearest), lang)) + ")"
        parts.append(place)
    return "; ".join(parts) + "."


# Reasons workflow writes itself (actor role "system"), by pattern. Add a row when workflow
# gains one; an unknown system reason is shown as written.
_SYSTEM_REASONS: tuple[tuple[re.Pattern[str], dict[ConsoleLanguage, str]], ...] = (
    (
        re.compile(r"^auto-routed by the rule for category (?P<category>\S+)$"),
        {
            "id": "Didisposisikan otomatis menurut aturan rute kategori {category}",
            "en": "Auto-routed by the routing rule of category {category}",
        },
    ),
)


def system_reason_text(
    reason: str,
    actor_role: str,
    lang: ConsoleLanguage,
    category_names: Mapping[str, str] | None = None,
) -> str:
    """A timeline reason in the console's language when workflow wrote it; an officer's
    reason (any other role) exactly as they wrote it."""
    if actor_role != "system":
        return reason
    for pattern, texts in _SYSTEM_REASONS:
        match = pattern.match(reason.strip())
        if match:
            fields = match.groupdict()
            if "category" in fields and category_names:
                fields["category"] = category_names.get(fields["category"], fields["category"])
            return texts["en" if lang == "en" else "id"].format(**fields)
    return reason


# Workflow's refusals (409) come back through the gateway as English sentences; the two an
# officer meets in daily work are said in the console's language. Others are shown as sent.
_REFUSALS: tuple[tuple[re.Pattern[str], dict[ConsoleLanguage, str]], ...] = (
    (
        re.compile(r"^version (?P<expected>\d+) expected, report is at (?P<current>\d+)$"),
        {
            "id": (
                "Laporan ini sudah diubah orang lain sejak Anda membukanya (Anda melihat "
                "versi {expected}, sekarang versi {current}). Tindakan Anda belum dilakukan: "
                "periksa keadaan terbarunya, lalu ulangi bila masih perlu."
            ),
            "en": (
                "Someone else changed this report after you opened it (you saw version "
                "{expected}, it is now at {current}). Your action was not carried out: check "
                "its current state, then try again if it is still needed."
            ),
        },
    ),
    (
        re.compile(r"^cannot (?P<verb>.+) a report in status '?(?P<status>[a-z_]+)'?$"),
        {
            "id": (
                "Tindakan ini tidak dapat dilakukan pada laporan berstatus {status}. "
                "Tindakan Anda belum dilakukan."
            ),
            "en": (
                "This action cannot be taken on a report with status {status}. Your action "
                "was not carried out."
            ),
        },
    ),
)


def refusal_text(detail: str, lang: ConsoleLanguage) -> str | None:
    """A workflow refusal in the console's language, or None when it is not a known one."""
    for pattern, texts in _REFUSALS:
        match = pattern.match(detail.strip())
        if match:
            fields = match.groupdict()
            if "status" in fields:
                with contextlib.suppress(ValueError):
                    s = ReportStatus(fields["status"])
                    fields["status"] = f"“{s.label_en if lang == 'en' else s.label_id}”"
            return texts["en" if lang == "en" else "id"].format(**fields)
    return None
