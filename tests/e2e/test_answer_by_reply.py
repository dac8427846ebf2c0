"""Answering an officer's question by replying to it, end to end on real Kafka, PostgreSQL
and Redis with every service a real process: a reporter who complained by SMS (or WhatsApp)
gets the question as a message that says "reply to this message", replies from the same
phone, and the reply lands on the report's conversation as the answer, not as a new
complaint. The reporter is told it arrived; a redelivered reply stays one answer; "BARU ..."
is always a new complaint; once the question is answered the next message is a new
complaint again; nobody else's phone can answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio

from aduan_gateway.auth import issue_access_token
from aduan_intake.entrypoints.channels.sms import twilio_signature
from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SMS_TOKEN = "sms-auth-token-for-the-answer-test"
SMS_URL = "https://aduan.example.go.id/v1/channels/sms"
APP_SECRET = "whatsapp-app-secret-for-the-answer-test"
PHONE = "+6281398760001"
OTHER_PHONE = "+6281398760002"
WA_ID = "6281398760003"
QUESTION = "Apakah lubangnya di lajur kiri atau kanan, dan kira-kira seberapa dalam?"


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    env = {
        "ADUAN_INTAKE_SMS_AUTH_TOKEN": SMS_TOKEN,
        "ADUAN_INTAKE_SMS_PUBLIC_URL": SMS_URL,
        "ADUAN_INTAKE_WHATSAPP_APP_SECRET": APP_SECRET,
        "ADUAN_INTAKE_WHATSAPP_VERIFY_TOKEN": "verify",
    }
    async with running_platform(isolated, tmp_path, extra_env=env) as plat:
        yield plat


def validator(p: Platform) -> dict[str, str]:
    token = issue_access_token(p.jwt_secret, "val-1", "validator", name="Petugas val-1")
    return {"Authorization": f"Bearer {token}"}


async def sms(client: httpx.AsyncClient, p: Platform, sender: str, text: str, sid: str) -> Any:
    params = [("MessageSid", sid), ("From", sender), ("To", "+6281100001111"), ("Body", text)]
    r = await client.post(
        f"{p.urls['intake']}/v1/channels/sms",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(SMS_TOKEN, SMS_URL, params),
        },
    )
    assert r.status_code == 200, r.text
    return r.headers


async def whatsapp(client: httpx.AsyncClient, p: Platform, text: str, wamid: str) -> Any:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": "106540352242922"},
                                "contacts": [{"profile": {"name": "Dewi"}, "wa_id": WA_ID}],
                                "messages": [
                                    {
                                        "from": WA_ID,
                                        "id": wamid,
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": text},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    r = await client.post(
        f"{p.urls['intake']}/v1/channels/whatsapp",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"},
    )
    assert r.status_code == 200, r.text
    [filed] = r.json()["filed"]
    return filed


async def question_known(p: Platform, question_id: str) -> None:
    async def logged() -> bool:
        text = p.logs["intake"].read_text(errors="replace")
        return "open question remembered" in text and question_id in text

    await eventually(logged, "intake to know the open question", timeout=60)


def sent(p: Platform, path_end: str, receipt: str) -> list[str]:
    """Bodies of what the notifier sent through the local sink on one provider route."""
    out = []
    for path in sorted((p.directory / "sinks" / "http").glob("*.json")):
        rec = json.loads(path.read_text())
        if rec["path"].endswith(path_end) and receipt in rec["body"]:
            out.append(rec["body"])
    return out


async def test_answer_by_sms_and_whatsapp_reply(platform: Platform) -> None:
    p, u = platform, platform.urls
    officer = validator(p)
    async with httpx.AsyncClient(timeout=15) as client:
        complaint = await sms(
            client, p, PHONE, "Jalan berlubang di Jl. Kramat Raya dekat halte.", "SM" + "1" * 32
        )
        rid, receipt = complaint["x-aduan-report-id"], complaint["x-aduan-receipt-code"]
        assert complaint["x-aduan-answer"] == "false"

        async def conversation(report_id: str = rid) -> Any:
            r = await client.get(
                f"{u['gateway']}/v1/reports/{report_id}/questions", headers=officer
            )
            return r.json() if r.status_code == 200 and r.json()["can_ask"] else None

        await eventually(conversation, "the report at the gateway")
        r = await client.post(
            f"{u['gateway']}/v1/reports/{rid}/questions", json={"text": QUESTION}, headers=officer
        )
        assert r.status_code == 201, r.text
        qid = r.json()["id"]

        # The question's SMS says how to answer it: reply, or the link.
        link = f"{u['portal']}/q/{uuid.UUID(qid).hex}"

        async def question_sms() -> Any:
            return [b for b in sent(p, "/sms/send", receipt) if link in b]

        [text] = await eventually(question_sms, "the question's SMS", timeout=60)
        assert "Balas pesan ini" in text and QUESTION not in text

        # Intake must know the question is open before the reply counts as its answer (a
        # reply that came earlier would be a new complaint): wait for it to say so.
        await question_known(p, qid)
        reply_text = "Lajur kiri, dalamnya sekitar 20 cm."
        answer_sid = "SM" + "2" * 32

        # Someone else's phone cannot answer: that is a new complaint of theirs.
        stranger = await sms(client, p, OTHER_PHONE, "Lajur kanan, dalam sekali.", "SM" + "3" * 32)
        assert stranger["x-aduan-answer"] == "false"
        assert stranger["x-aduan-receipt-code"] != receipt

        answer = await sms(client, p, PHONE, reply_text, answer_sid)
        assert answer["x-aduan-answer"] == "true"
        assert answer["x-aduan-receipt-code"] == receipt
        assert answer["x-aduan-report-id"] == rid

        async def answered() -> Any:
            conv = await conversation()
            messages = [e for e in conv["entries"] if e["kind"] == "message"] if conv else []
            return conv if messages else None

        conv = await eventually(answered, "the answer on the report", timeout=60)
        [message] = [e for e in conv["entries"] if e["kind"] == "message"]
        assert message["question_id"] == qid and message["channel"] == "sms"
        assert message["text"] == reply_text
        [asked] = [e for e in conv["entries"] if e["kind"] == "question"]
        assert asked["answered"] is True

        # The reporter is told the answer arrived, and how to file something new.
        async def ack() -> Any:
            return [b for b in sent(p, "/sms/send", receipt) if "jawaban Anda" in b]

        [told] = await eventually(ack, "the answer's acknowledgement SMS", timeout=60)
        assert "BARU" in told

        # The provider redelivers the same reply: still one answer on the same report.
        again = await sms(client, p, PHONE, reply_text, answer_sid)
        assert again["x-aduan-duplicate"] == "true"
        assert again["x-aduan-receipt-code"] == receipt

        # The question is answered: the reporter's next SMS is a new complaint, and so is
        # one marked BARU while a question is open.
        later = await sms(client, p, PHONE, "Lampu jalan mati di Jl. Salemba.", "SM" + "4" * 32)
        assert later["x-aduan-answer"] == "false" and later["x-aduan-receipt-code"] != receipt
        r = await client.post(
            f"{u['gateway']}/v1/reports/{rid}/questions",
            json={"text": "Apakah sudah ada rambu peringatan di sekitar lubang itu?"},
            headers=officer,
        )
        assert r.status_code == 201, r.text
        second_qid = r.json()["id"]

        async def second_question_sms() -> Any:
            hexid = uuid.UUID(second_qid).hex
            return [b for b in sent(p, "/sms/send", receipt) if hexid in b] or None

        await eventually(second_question_sms, "the second question's SMS", timeout=60)
        await question_known(p, second_qid)
        fresh = await sms(
            client, p, PHONE, "BARU: sampah menumpuk di Pasar Senen.", "SM" + "5" * 32
        )
        assert fresh["x-aduan-answer"] == "false" and fresh["x-aduan-receipt-code"] != receipt

        # --- WhatsApp: the same, from the chat -------------------------------------------
        wa = await whatsapp(client, p, "Got tersumbat di Jl. Cikini Raya no. 5.", "wamid.ans1")
        assert wa["answer"] is False
        await eventually(lambda: conversation(wa["report_id"]), "the WhatsApp report")
        r = await client.post(
            f"{u['gateway']}/v1/reports/{wa['report_id']}/questions",
            json={"text": QUESTION},
            headers=officer,
        )
        assert r.status_code == 201, r.text
        wa_qid = r.json()["id"]

        async def wa_question() -> Any:
            return [
                b
                for b in sent(p, "/messages", "")
                if uuid.UUID(wa_qid).hex in b and "Balas pesan ini" in b
            ] or None

        await eventually(wa_question, "the question on WhatsApp", timeout=60)
        await question_known(p, wa_qid)
        wa_answer = await whatsapp(client, p, "Tersumbat sampah plastik.", "wamid.ans2")
        assert wa_answer["answer"] is True
        assert wa_answer["receipt_code"] == wa["receipt_code"]

        async def wa_answered() -> Any:
            conv = await conversation(wa["report_id"])
            if conv is None:
                return None
            return [e for e in conv["entries"] if e["kind"] == "message"] or None

        [wa_message] = await eventually(wa_answered, "the WhatsApp answer", timeout=60)
        assert wa_message["question_id"] == wa_qid and wa_message["channel"] == "whatsapp"
