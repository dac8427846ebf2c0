""" "Ask the reporter" through the local sinks, in Debian Chromium, on the platform as
`make up` runs it: the agency's officer asks in the console; the notifier's e-mail (read
from the sinks, as an operator would) carries the question and the link; the citizen
answers on the portal page it opens; the answer appears on the report in the console. The
reporter's contact is on no officer page; the conversation is on no public surface."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from email import message_from_bytes, policy

import httpx
import pytest
from playwright.async_api import Browser

from aduan_testing.browser import (
    PHONE,
    assert_nothing_personal,
    console_login,
    expect_success,
    new_context,
    open_report,
    shot,
)
from aduan_testing.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

UPDATE_DOCS = os.environ.get("ADUAN_UPDATE_DOC_SCREENSHOTS") == "1"
NAME = "Sri Mulyani Hartati"
EMAIL = "sri.hartati@example.org"
QUESTION = "Apakah genangan itu ada di depan sekolah atau di dekat jembatan?"
ANSWER = "Di dekat jembatan, sekitar 50 meter dari sekolah."


async def question_mail(platform: Platform, receipt: str, timeout: float = 60) -> str:
    """The plain text of the question's e-mail, as the sinks stored it."""
    mail_dir = platform.directory / "sinks" / "mail"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for path in sorted(mail_dir.glob("*.eml")) if mail_dir.is_dir() else ():
            msg = message_from_bytes(path.read_bytes(), policy=policy.default)
            if f"Pertanyaan tentang laporan {receipt}" in str(msg.get("Subject", "")):
                body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
                return str(body.get_content())
        await asyncio.sleep(0.5)
    raise AssertionError(f"no question e-mail for {receipt} in {mail_dir}")


async def test_officer_asks_citizen_answers_answer_on_the_report(
    platform: Platform, browser: Browser
) -> None:
    portal = platform.urls["portal"]
    async with httpx.AsyncClient(timeout=15) as client:
        r = await client.post(
            f"{platform.urls['intake']}/v1/channels/web",
            data={
                "title": "Genangan di Jl. Kendal",
                "text": "Genangan setinggi lutut setiap hujan, motor mogok.",
                "category": "banjir",
                "name": NAME,
                "contact": EMAIL,
                "area": "Menteng",
                "submission_id": str(uuid.uuid4()),
            },
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 201, r.text
        report_id, receipt = r.json()["report_id"], r.json()["receipt_code"]

    # The agency's officer (banjir is routed to Dinas SDA) asks.
    context, officer = await console_login(browser, portal, "demo-sda")
    try:
        await open_report(officer, portal, report_id)
        await officer.wait_for_selector("#question-form")
        await officer.fill("#question-text", QUESTION)
        await officer.click("#question-submit")
        await expect_success(officer)
        waiting = officer.locator("#conversation-list li.question")
        assert QUESTION in await waiting.first.inner_text()
        assert await waiting.first.get_attribute("data-answered") == "no"
        assert_nothing_personal(await officer.content(), (NAME, EMAIL), "the officer's page")

        # The e-mail, as the sinks hold it: the question and the link to answer it.
        mail = await question_mail(platform, receipt)
        assert QUESTION in mail
        link = re.search(r"(http://\S+/q/[0-9a-f]{32})", mail)
        assert link is not None, mail

        # The citizen answers on a phone.
        citizen_ctx = await new_context(browser, PHONE, phone=True)
        citizen = await citizen_ctx.new_page()
        await citizen.goto(link[1])
        assert QUESTION in await citizen.inner_text("#question-text")
        await citizen.fill("#answer", ANSWER)
        await shot(citizen, "portal-question-phone", update_docs=UPDATE_DOCS)
        await citizen.click(".answer-form button[type=submit]")
        await citizen.wait_for_selector("#question-sent, #answer-error, #question-message")
        assert await citizen.locator("#question-sent").count() == 1, await citizen.inner_text(
            "main"
        )
        await citizen_ctx.close()

        # The answer on the report, for the officer.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while loop.time() < deadline:
            await officer.reload()
            if await officer.locator("#conversation-list li.reporter-message").count():
                break
            await asyncio.sleep(1)
        answer = officer.locator("#conversation-list li.reporter-message")
        assert ANSWER in await answer.first.inner_text()
        question = officer.locator("#conversation-list li.question").first
        assert await question.get_attribute("data-answered") == "yes"
        assert_nothing_personal(await officer.content(), (NAME, EMAIL), "the officer's page")
        await officer.locator("#conversation").scroll_into_view_if_needed()
        await shot(officer, "console-ask-reporter", update_docs=UPDATE_DOCS)
    finally:
        await context.close()
