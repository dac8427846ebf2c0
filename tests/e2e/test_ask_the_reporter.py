""" "Ask the reporter" end to end, every service a real OS process on real Kafka, PostgreSQL and
Redis, with the local provider sinks: an officer asks on the gateway, the notifier delivers
the question on the reporter's own channel (e-mail with the question, SMS with only the
link), the reporter answers on the portal page the link opens (which posts through intake)
or by replying to the e-mail, and the answer lands on the report's conversation. Nobody sees
a contact; the question never reaches a public surface; a receipt code alone cannot write
into the report."""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

NAME = "Wulan Kusumawardani"
EMAIL = "wulan.kusuma@example.org"
PHONE = "081398765432"
QUESTION = "Apakah lubangnya di lajur kiri atau kanan, dan kira-kira seberapa dalam?"
ANSWER = f"Lajur kiri, dalamnya sekitar 20 cm. Kalau perlu telepon saya di {PHONE}."
MAIL_ANSWER = "Lubangnya tepat di depan halte, sebelah kiri."


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    async with running_platform(isolated, tmp_path) as plat:
        yield plat


async def file(client: httpx.AsyncClient, p: Platform, contact: str, public: bool) -> Any:
    form = {
        "title": "Jalan berlubang di Jl. Kramat Raya",
        "text": "Lubang besar di jalan, motor hampir jatuh.",
        "name": NAME,
        "contact": contact,
        "public": "on" if public else "",
        "area": "Senen",
        "submission_id": str(uuid.uuid4()),
    }
    r = await client.post(
        f"{p.urls['intake']}/v1/channels/web", data=form, headers={"Accept": "application/json"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def mails(p: Platform, subject_has: str) -> list[EmailMessage]:
    found = []
    for path in sorted((p.directory / "sinks" / "mail").glob("*.eml")):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        if subject_has in str(msg.get("Subject", "")):
            found.append(msg)  # type: ignore[arg-type]
    return found


def sms_sent(p: Platform, receipt: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted((p.directory / "sinks" / "http").glob("*.json")):
        rec = json.loads(path.read_text())
        if rec["path"].endswith("/sms/send") and receipt in rec["body"]:
            found.append(rec)
    return found


def plain(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_question_answered_on_the_portal_and_by_email_reply(platform: Platform) -> None:
    p, u = platform, platform.urls
    validator = p.bearer("val-1", "validator", name="Petugas val-1")
    other_agency = p.bearer(
        "dlh-1", "agency-officer", "dinas-lingkungan-hidup", name="Petugas dlh-1"
    )
    async with httpx.AsyncClient(timeout=15) as client:
        by_mail = await file(client, p, EMAIL, public=True)
        by_sms = await file(client, p, PHONE, public=False)
        rid, receipt = by_mail["report_id"], by_mail["receipt_code"]

        async def conversation(report_id: str) -> Any:
            r = await client.get(
                f"{u['gateway']}/v1/reports/{report_id}/questions", headers=validator
            )
            return r.json() if r.status_code == 200 else None

        for report in (by_mail, by_sms):
            assert (await eventually(lambda r=report: conversation(r["report_id"]), "report"))[
                "can_ask"
            ]

        # --- who may ask: officers in the report's scope only ----------------------------
        ask_url = f"{u['gateway']}/v1/reports/{rid}/questions"
        r = await client.post(ask_url, json={"text": QUESTION})
        assert r.status_code == 401
        r = await client.post(ask_url, json={"text": QUESTION}, headers=other_agency)
        assert r.status_code == 404  # another agency's report does not exist for them
        r = await client.post(ask_url, json={"text": "Kapan?"}, headers=validator)
        assert r.status_code == 422  # too short to be a question a citizen can answer
        r = await client.post(ask_url, json={"text": QUESTION}, headers=validator)
        assert r.status_code == 201, r.text
        question = r.json()
        assert question["kind"] == "question" and question["answered"] is False
        qid = uuid.UUID(question["id"])

        # --- the notifier: the question by e-mail, with the link to answer it -------------
        link = f"{u['portal']}/q/{qid.hex}"

        async def question_mail() -> Any:
            return mails(p, f"Pertanyaan tentang laporan {receipt}")

        [mail] = await eventually(question_mail, "the question's e-mail in the sink", timeout=60)
        assert mail["To"] == EMAIL
        body = plain(mail)
        assert QUESTION in body and link in body

        # ... and by SMS: only the link (an officer's text never goes into a short message)
        r = await client.post(
            f"{u['gateway']}/v1/reports/{by_sms['report_id']}/questions",
            json={"text": QUESTION},
            headers=validator,
        )
        assert r.status_code == 201, r.text
        sms_link = f"{u['portal']}/q/{uuid.UUID(r.json()['id']).hex}"

        async def question_sms() -> Any:
            return [s for s in sms_sent(p, by_sms["receipt_code"]) if sms_link in s["body"]]

        [sms] = await eventually(question_sms, "the question's SMS in the sink", timeout=60)
        assert QUESTION not in sms["body"]

        # --- the tracking page says a question waits, without its text -------------------
        track = await client.get(f"{u['portal']}/track/{receipt}")
        assert track.status_code == 200
        assert "pertanyaan" in track.text and QUESTION not in track.text

        # --- a receipt code alone cannot write into the report ---------------------------
        forged = await client.post(
            f"{u['intake']}/v1/channels/web/answers",
            json={
                "receipt_code": receipt,
                "question_id": str(uuid.uuid4()),
                "submission_id": str(uuid.uuid4()),
                "text": "Ini bukan jawaban pelapor.",
            },
        )
        assert forged.status_code == 201  # intake cannot tell; the gateway drops it

        # --- the reporter answers on the page the link opens -----------------------------
        page = await client.get(link)
        assert page.status_code == 200, page.text
        assert QUESTION in page.text and receipt in page.text
        assert "Petugas val-1" not in page.text  # never who asked
        submission = re.search(r'name="submission_id" value="([0-9a-f-]{36})"', page.text)
        assert submission is not None
        sent = await client.post(link, data={"text": "", "submission_id": submission[1]})
        assert sent.status_code == 422 and "Tulis jawaban Anda" in sent.text
        sent = await client.post(link, data={"text": ANSWER, "submission_id": submission[1]})
        assert sent.status_code == 303 and sent.headers["location"].endswith("sent=1")
        # Back and send again: the same form files once.
        again = await client.post(link, data={"text": ANSWER, "submission_id": submission[1]})
        assert again.status_code == 303
        thanks = await client.get(f"{link}?sent=1")
        assert "Jawaban Anda sudah kami terima" in thanks.text

        async def answered() -> Any:
            conv = await conversation(rid)
            messages = [e for e in conv["entries"] if e["kind"] == "message"] if conv else []
            return conv if messages else None

        conv = await eventually(answered, "the answer on the report", timeout=60)
        [message] = [e for e in conv["entries"] if e["kind"] == "message"]
        assert message["question_id"] == str(qid) and message["channel"] == "web"
        assert "Lajur kiri" in message["text"] and PHONE not in message["text"]
        [asked] = [e for e in conv["entries"] if e["kind"] == "question"]
        assert asked["answered"] is True and asked["text"] == QUESTION
        later = await client.get(link)
        assert "sudah dijawab" in later.text and 'name="text"' not in later.text

        # --- a second question, answered by replying to the e-mail -----------------------
        r = await client.post(
            ask_url,
            json={"text": "Apakah ada rambu peringatan di sekitar lubang itu?"},
            headers=validator,
        )
        assert r.status_code == 201
        second = r.json()["id"]
        reply = EmailMessage()
        reply["From"] = f"{NAME} <{EMAIL}>"
        reply["To"] = "aduan@localhost"
        reply["Subject"] = f"Re: {mail['Subject']}"
        reply["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
        reply.set_content(
            f"{MAIL_ANSWER}\n\nPada Kamis, Aduan menulis:\n"
            f"> Petugas punya pertanyaan soal {receipt}."
        )

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", p.smtp_port, timeout=10) as smtp:
                smtp.send_message(reply)

        await asyncio.to_thread(send)

        async def mail_answered() -> Any:
            conv = await conversation(rid)
            if conv is None:
                return None
            return [e for e in conv["entries"] if e.get("question_id") == second] or None

        [by_reply] = await eventually(mail_answered, "the e-mail reply on the report", timeout=60)
        assert MAIL_ANSWER in by_reply["text"] and by_reply["channel"] == "email"
        conv = await conversation(rid)
        texts = " ".join(e["text"] for e in conv["entries"])
        assert "bukan jawaban pelapor" not in texts  # the forged answer was dropped
        assert all(e["answered"] for e in conv["entries"] if e["kind"] == "question")

        # --- nothing of the conversation on any public surface ---------------------------
        public = await client.get(f"{u['gateway']}/v1/public/reports/{rid}")
        portal_page = await client.get(f"{u['portal']}/reports/{rid}")
        for surface in (public.text, portal_page.text):
            assert QUESTION not in surface and "Lajur kiri" not in surface
            assert MAIL_ANSWER not in surface

    logs = p.log_text()
    for secret in (PHONE, EMAIL, NAME, QUESTION, "Lajur kiri", MAIL_ANSWER):
        assert secret not in logs, f"{secret!r} in the logs"
