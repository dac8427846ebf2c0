"""E-mail on real PostgreSQL, Kafka and Redis, through the SMTP listener inside intake, sent
by a real SMTP client (aiosmtplib): a complaint with a photo becomes a report whose stored
photo has no EXIF; a resend files nothing; a reply quoting the receipt code amends that
report; HTML-only mail is read; unusable mail is refused with a 5xx reason."""

from __future__ import annotations

import base64
import io
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
import pytest
from PIL import Image

from aduan_contracts import decode
from aduan_contracts.enums import Channel
from aduan_contracts.events import ReportAmended, ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_intake.entrypoints.channels.email import SmtpListener
from aduan_kit.blobs import FilesystemBlobStore
from aduan_kit.crypto import open_content, open_identity
from aduan_kit.redaction import HIDDEN

pytestmark = pytest.mark.integration

SENDER = "Yusuf Maulana <yusuf.maulana@example.id>"


def smtp_port(run: Any) -> int:
    listener = next(p for p in run.runtime.background if isinstance(p, SmtpListener))
    assert listener.port
    return listener.port


async def send(port: int, message: EmailMessage) -> tuple[int, str]:
    """Send with aiosmtplib; returns the server's answer to DATA (code, text)."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    try:
        await smtp.ehlo()
        await smtp.mail(message["From"].addresses[0].addr_spec)
        await smtp.rcpt("aduan@aduan.example.go.id")
        try:
            response = await smtp.data(message.as_bytes())
        except aiosmtplib.SMTPDataError as exc:
            return exc.code, exc.message
        return response.code, response.message
    finally:
        await smtp.quit()


def complaint(photo: bytes | None = None, subject: str = "Jalan berlubang") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = "aduan@aduan.example.go.id"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="mail.example.id")
    msg.set_content(
        "Selamat siang,\n\nJalan di Jl. Pramuka depan no. 40 berlubang besar, "
        "sudah dua motor jatuh minggu ini.\n\nTerima kasih."
    )
    msg.add_alternative(
        "<html><body><p>Selamat siang,</p><p>Jalan di Jl. Pramuka depan no. 40 berlubang "
        "besar.</p></body></html>",
        subtype="html",
    )
    if photo is not None:
        msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="lubang.jpg")
    return msg


async def test_a_mailed_complaint_with_a_photo_is_filed_with_exif_stripped_and_replies_amend(
    intake: Any, topics: Any, exif_jpeg: bytes
) -> None:
    async with intake() as run:
        port = smtp_port(run)
        first_msg = complaint(exif_jpeg)
        code, text = await send(port, first_msg)
        assert code == 250, text
        receipt = text.split()[-1]
        assert receipt.startswith("ADU-")
        # The same message again (a sending server's retry): same receipt, nothing new.
        again_code, again_text = await send(port, first_msg)
        assert (again_code, again_text.split()[-1]) == (250, receipt)

        reply = EmailMessage()
        reply["From"] = SENDER
        reply["To"] = "aduan@aduan.example.go.id"
        reply["Subject"] = f"Re: Aduan diterima {receipt}"
        reply["Message-ID"] = make_msgid(domain="mail.example.id")
        reply["In-Reply-To"] = first_msg["Message-ID"]
        reply.set_content(
            "Lubangnya makin besar setelah hujan tadi malam. Salam, YUSUF maulana.\n\n"
            f"On Mon, 23 Nov 2026 Aduan wrote:\n> Nomor aduan Anda {receipt}\n"
        )
        reply_code, reply_text = await send(port, reply)
        assert reply_code == 250, reply_text
        assert "added to" in reply_text and receipt in reply_text

        html_only = EmailMessage()
        html_only["From"] = "warga@example.id"
        html_only["Subject"] = "Sampah"
        html_only["Message-ID"] = make_msgid(domain="example.id")
        html_only.set_content(
            "<html><head><style>p{color:red}</style></head><body><p>Sampah di pasar "
            "Rawamangun belum diangkut&nbsp;tiga hari.</p><script>alert(1)</script></body></html>",
            subtype="html",
        )
        html_code, _ = await send(port, html_only)

        empty = EmailMessage()
        empty["From"] = "warga@example.id"
        empty["Message-ID"] = make_msgid(domain="example.id")
        empty.set_content("")
        empty_code, empty_text = await send(port, empty)

        gif = io.BytesIO()
        Image.new("RGB", (4, 4)).save(gif, "GIF")
        bad_photo = complaint(None, "Foto GIF")
        bad_photo.add_attachment(gif.getvalue(), maintype="image", subtype="gif", filename="a.gif")
        gif_code, gif_text = await send(port, bad_photo)

        records = await topics.read(REPORT_INTAKE.name, want=3)
        keys = [decode(REPORTER_KEYS, r.value) for r in await topics.read(REPORTER_KEYS.name, 1)]
        store = FilesystemBlobStore(run.settings.blob_root)
        decoded = [decode(REPORT_INTAKE, r.value) for r in records]
        submitted = [e for e in decoded if isinstance(e, ReportSubmitted)]
        first = next(e for e in submitted if e.receipt_code == receipt)
        stored_photo = await store.get(first.photos[0].sha256)

    assert html_code == 250
    assert (empty_code, "empty" in empty_text) == (550, True)
    assert gif_code == 550 and "unsupported" in gif_text
    assert len(decoded) == 3  # the complaint, its amendment, the HTML-only complaint
    assert first.channel is Channel.EMAIL
    assert first.title == "Jalan berlubang"
    assert "Jl. Pramuka" in first.text and "<p>" not in first.text
    assert len(first.photos) == 1
    # The stored photo carries no EXIF (no device, no GPS) but the point was read first.
    assert b"PhoneMaker" not in stored_photo and b"Exif" not in stored_photo
    with Image.open(io.BytesIO(stored_photo)) as img:
        assert not img.getexif()
    assert first.photos[0].point is not None
    amended = next(e for e in decoded if isinstance(e, ReportAmended))
    assert amended.report_id == first.report_id
    # Scrubbed of the sender's own values in the event (issue 13, hole 4); as typed only
    # sealed with their key (the one their complaint has).
    assert amended.text == f"Lubangnya makin besar setelah hujan tadi malam. Salam, {HIDDEN}."
    assert amended.sealed_original is not None
    assert first.reporter is not None
    assert amended.sealed_original.key_id == first.reporter.key_id
    html_event = next(e for e in submitted if e.title == "Sampah")
    assert html_event.text == "Sampah di pasar Rawamangun belum diangkut tiga hari."
    assert first.reporter is not None
    key = next(k for k in keys if k.key_id == first.reporter.key_id)
    identity = open_identity(first.reporter, base64.b64decode(key.key))
    assert identity["contact"] == "yusuf.maulana@example.id"
    assert identity["name"] == "Yusuf Maulana"
    assert identity["reply"] == {"message_id": first_msg["Message-ID"].strip("<>")}
    assert open_content(amended.sealed_original, base64.b64decode(key.key)) == (
        None,
        "Lubangnya makin besar setelah hujan tadi malam. Salam, YUSUF maulana.",
    )
    assert await topics.count(REPORT_INTAKE.name) == 3


async def test_a_flooding_mail_sender_is_told_to_come_back_later(intake: Any) -> None:
    async with intake(rate_limit_posts=2) as run:
        port = smtp_port(run)
        codes = [(await send(port, complaint(subject=f"Aduan {n}")))[0] for n in range(3)]
    assert codes == [250, 250, 451]
