"""Message templates: Indonesian by default, English on request, one shape per channel family.

A message carries the receipt code and status news only. It never repeats the report's text
or the reporter's data; the free text it may carry is the ticket-admin's reason for a
rejection, the agency's follow-up note on completion (the outcome) and an officer's question
to the reporter, and only by e-mail (never in a short
message, never on a public channel's DM: those carry the link where the question is read
and answered).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Literal
from uuid import UUID

from aduan_contracts.enums import ANSWER_BY_REPLY_CHANNELS, Channel
from aduan_contracts.events import ReportStatusChanged
from aduan_notifier.domain.channels import PUBLIC_CHANNELS, ChannelFamily, family_of
from aduan_notifier.domain.policy import Template, template_for_event

__all__ = [
    "Language",
    "Message",
    "compose",
    "email_html",
    "normalize_language",
    "question_url",
    "render",
    "tracking_url",
]

Language = Literal["id", "en"]

REASON_LIMIT = 500

# The first message a reporter gets: it carries the tracking link in every shape.
_FIRST = frozenset({Template.RECEIVED, Template.RECEIVED_DISPATCHED})

# (template) -> language -> (e-mail subject, status sentence). `{code}` is the receipt code.
_TEXTS: dict[Template, dict[Language, tuple[str, str]]] = {
    Template.RECEIVED: {
        "id": ("Laporan {code} diterima", "Laporan Anda sudah kami terima dengan kode {code}."),
        "en": ("Report {code} received", "We have received your report, code {code}."),
    },
    Template.DISPATCHED: {
        "id": (
            "Laporan {code} diteruskan",
            "Laporan {code} sudah diteruskan ke instansi yang berwenang.",
        ),
        "en": (
            "Report {code} forwarded",
            "Report {code} has been forwarded to the responsible agency.",
        ),
    },
    Template.RECEIVED_DISPATCHED: {
        "id": (
            "Laporan {code} diterima dan diteruskan",
            "Laporan {code} sudah kami terima dan diteruskan ke instansi yang berwenang.",
        ),
        "en": (
            "Report {code} received and forwarded",
            "Report {code} received and forwarded to the responsible agency.",
        ),
    },
    Template.IN_PROGRESS: {
        "id": (
            "Laporan {code} sedang ditangani",
            "Laporan {code} sedang ditangani oleh instansi terkait.",
        ),
        "en": ("Report {code} in progress", "Report {code} is being handled by the agency."),
    },
    Template.COMPLETED: {
        "id": (
            "Laporan {code} selesai",
            "Laporan {code} selesai ditindaklanjuti. Terima kasih atas laporan Anda.",
        ),
        "en": (
            "Report {code} resolved",
            "Report {code} has been resolved. Thank you for reporting.",
        ),
    },
    Template.FOLLOWUP_REJECTED: {
        "id": (
            "Tindak lanjut laporan {code} belum diterima",
            "Tindak lanjut laporan {code} belum diterima pemeriksa; instansi terkait akan "
            "menanganinya lagi.",
        ),
        "en": (
            "Follow-up on report {code} not accepted",
            "The follow-up on report {code} was not accepted by the reviewer; the agency will "
            "work on it again.",
        ),
    },
    Template.REJECTED: {
        "id": (
            "Laporan {code} tidak dapat diproses",
            "Laporan {code} tidak dapat diproses lebih lanjut.",
        ),
        "en": ("Report {code} cannot be processed", "Report {code} cannot be processed further."),
    },
    Template.MERGED: {
        "id": (
            "Laporan {code} digabung",
            "Laporan {code} digabung dengan laporan lain tentang masalah yang sama; kabar "
            "selanjutnya tetap kami kirimkan.",
        ),
        "en": (
            "Report {code} merged",
            "Report {code} was merged with another report about the same problem; we will keep "
            "you informed.",
        ),
    },
    Template.SLA_APOLOGY: {
        "id": (
            "Maaf, laporan {code} terlambat ditangani",
            "Mohon maaf, laporan {code} melewati batas waktu layanan; instansi terkait "
            "sudah diminta segera menanganinya.",
        ),
        "en": (
            "Sorry, report {code} is delayed",
            "We are sorry: report {code} is past its service deadline; the agency has been "
            "asked to act on it promptly.",
        ),
    },
    Template.QUESTION: {
        "id": (
            "Pertanyaan tentang laporan {code}",
            "Petugas punya pertanyaan soal laporan {code}.",
        ),
        "en": (
            "A question about report {code}",
            "An officer has a question about report {code}.",
        ),
    },
    Template.ANSWER_RECEIVED: {
        "id": (
            "Jawaban Anda untuk laporan {code} diterima",
            "Terima kasih, jawaban Anda untuk laporan {code} sudah diteruskan ke petugas. "
            "Aduan lain? Awali pesan dengan BARU.",
        ),
        "en": (
            "Your answer about report {code} was received",
            "Thank you, your answer about report {code} was passed to the officer. "
            "Another complaint? Start the message with NEW.",
        ),
    },
    Template.REOPENED: {
        "id": (
            "Laporan {code} dibuka kembali",
            "Laporan {code} dibuka kembali dan ditangani lagi oleh instansi terkait.",
        ),
        "en": (
            "Report {code} reopened",
            "Report {code} was reopened and the agency is working on it again.",
        ),
    },
}

_WORDS: dict[Language, dict[str, str]] = {
    "id": {
        "track": "Pantau",
        "greeting": "Yth. Pelapor,",
        "code": "Kode laporan",
        "track_long": "Pantau laporan Anda",
        "reason": "Alasan",
        "outcome": "Yang dikerjakan instansi",
        "answer": "Jawab",
        "answer_reply": "Balas pesan ini atau jawab di",
        "answer_long": "Balas e-mail ini atau jawab di",
        "footer": "Pesan ini dikirim otomatis oleh Aduan. Jangan bagikan kode laporan Anda "
        "kepada orang lain.",
    },
    "en": {
        "track": "Track",
        "greeting": "Dear reporter,",
        "code": "Report code",
        "track_long": "Track your report",
        "reason": "Reason",
        "outcome": "What the agency did",
        "answer": "Answer",
        "answer_reply": "Reply here or answer at",
        "answer_long": "Reply to this e-mail or answer at",
        "footer": "This message was sent automatically by Aduan. Do not share your report code "
        "with anyone.",
    },
}


@dataclass(frozen=True, slots=True)
class Message:
    """What the reporter is told. `direct_message` marks a private DM on a public channel."""

    template: Template
    channel: Channel
    family: ChannelFamily
    language: Language
    subject: str | None
    body: str
    direct_message: bool


def normalize_language(value: str | None) -> Language:
    """Indonesian unless the reporter asked for English."""
    return "en" if value == "en" else "id"


def _in(language: Language) -> str:
    """The portal is Indonesian unless asked: a reporter told in English is sent to the
    English page (the message and the page it links to speak the same language)."""
    return "?lang=en" if language == "en" else ""


def tracking_url(portal_base_url: str, receipt_code: str, language: Language = "id") -> str:
    return f"{portal_base_url.rstrip('/')}/track/{receipt_code}{_in(language)}"


def question_url(portal_base_url: str, question_id: UUID, language: Language = "id") -> str:
    """Where the reporter reads and answers a question: the id is the capability (random,
    sent only to them), so the receipt code alone shows no officer's text."""
    return f"{portal_base_url.rstrip('/')}/q/{question_id.hex}{_in(language)}"


def render(
    template: Template,
    channel: Channel,
    language: Language,
    receipt_code: str,
    portal_base_url: str,
    reason: str | None = None,
    family: ChannelFamily | None = None,
    question_id: UUID | None = None,
) -> Message:
    """The message for `channel` in the shape of `family` (by default the channel's own;
    a fallback transport asks for its shape, e.g. an SMS for a WhatsApp reporter). For a
    question, `reason` is the question and `question_id` makes the link to answer it."""
    family = family or family_of(channel)
    words = _WORDS[language]
    subject, sentence = (s.format(code=receipt_code) for s in _TEXTS[template][language])
    url = tracking_url(portal_base_url, receipt_code, language)
    answer_url = (
        question_url(portal_base_url, question_id, language)
        if template is Template.QUESTION and question_id is not None
        else url
    )
    # Short forms link to the tracking page only on the first message: it is the one the
    # reporter keeps, and the link would push later SMS into a second part. A question
    # links to where it is read and answered.
    # A question that arrives as an SMS, or on WhatsApp, can be answered by replying: intake
    # adds the reply to the report (ANSWER_BY_REPLY_CHANNELS).
    by_reply = family is ChannelFamily.SMS or (
        family is ChannelFamily.CHAT and channel in ANSWER_BY_REPLY_CHANNELS
    )
    link = (
        f" {words['track']}: {url}"
        if template in _FIRST
        else f" {words['answer_reply' if by_reply else 'answer']}: {answer_url}"
        if template is Template.QUESTION
        else ""
    )
    if family is ChannelFamily.EMAIL:
        lines = [words["greeting"], "", sentence]
        if reason and template is Template.REJECTED and channel not in PUBLIC_CHANNELS:
            lines.append(f"{words['reason']}: {reason.strip()[:REASON_LIMIT]}")
        if reason and template is Template.COMPLETED and channel not in PUBLIC_CHANNELS:
            lines.append(f"{words['outcome']}: {reason.strip()[: REASON_LIMIT * 2]}")
        if template is Template.QUESTION:
            # The reporter's own mailbox: the question itself, and how to answer it (a
            # reply keeps the receipt code in its subject, which files it onto the report).
            if reason:
                lines += ["", f"\u201c{reason.strip()[: REASON_LIMIT * 2]}\u201d"]
            lines += ["", f"{words['answer_long']}: {answer_url}"]
        lines += [
            "",
            f"{words['code']}: {receipt_code}",
            f"{words['track_long']}: {url}",
            "",
            words["footer"],
        ]
        return Message(template, channel, family, language, subject, "\n".join(lines), False)
    # SMS arrives from a bare number: say who is writing.
    body = f"Aduan: {sentence}{link}" if family is ChannelFamily.SMS else f"{sentence}{link}"
    return Message(template, channel, family, language, None, body, channel in PUBLIC_CHANNELS)


def compose(
    event: ReportStatusChanged,
    language: str | None,
    portal_base_url: str,
    outcome: str | None = None,
) -> Message | None:
    """The message for a status change, or None when the reporter need not hear of it.

    Everything comes from the status event itself (receipt code, channel), so a message
    never waits for intake's event to arrive first.
    """
    template = template_for_event(event.from_status, event.to_status, event.primary_status)
    if template is None:
        return None
    return render(
        template,
        event.channel,
        normalize_language(language),
        event.receipt_code,
        portal_base_url,
        # On completion, what the agency did (its follow-up note); else the reason given.
        reason=outcome if template is Template.COMPLETED else event.reason,
    )


def email_html(message: Message) -> str:
    """The HTML part of an e-mail: the same lines as the plain part, escaped, links live."""
    paragraphs: list[str] = []
    for block in message.body.split("\n\n"):
        lines = []
        for line in block.split("\n"):
            label, sep, rest = line.partition(": ")
            if sep and rest.startswith(("http://", "https://")):
                url = escape(rest, quote=True)
                lines.append(f'{escape(label)}: <a href="{url}">{escape(rest)}</a>')
            else:
                lines.append(escape(line))
        paragraphs.append("<p>" + "<br>\n".join(lines) + "</p>")
    title = escape(message.subject or "Aduan")
    return (
        f'<!doctype html>\n<html lang="{message.language}"><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n" + "\n".join(paragraphs) + "\n</body></html>\n"
    )
