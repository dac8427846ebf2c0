"""The local sinks' SMTP server reads MAIL FROM and RCPT TO as aiosmtpd's own parser does."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import SMTP

from aduan_notifier.sinks import HttpSink, MailSink, _SinkSMTP

ARGUMENTS = [
    "<warga@example.com>",
    "<warga.x+1@mail.example.co.id> SIZE=1234 BODY=8BITMIME",
    " <a@b>",
    "<a@b>   SMTPUTF8",
    "<>",
    "warga@example.com",
    '<"quoted part"@example.com>',
    "<a..b@example.com>",
    "<.a@example.com>",
    "<a@b> ",
    "<a@[127.0.0.1]>",
    "<@route.example:a@b.example>",
    "<a@b",
    "<warga (comment) @example.com>",
    "<用户@例子.cn>",
    "",
]


@pytest.mark.parametrize("arg", ARGUMENTS)
async def test_an_address_reads_as_aiosmtpd_reads_it(arg: str) -> None:
    ours, theirs = _SinkSMTP(MailSink()), SMTP(MailSink())
    assert ours._getaddr(arg) == theirs._getaddr(arg)


async def test_a_sink_run_as_a_process_keeps_no_message_in_memory() -> None:
    mail, http = MailSink(keep=0), HttpSink(keep=0)
    mail.messages.append(object())  # type: ignore[arg-type]
    http.requests.append(object())  # type: ignore[arg-type]
    assert len(mail.messages) == 0 and len(http.requests) == 0
    assert isinstance(MailSink().messages, list)  # tests in-process read every message
