"""The e-mail generator: complaints to intake's SMTP listener at a constant rate, beside
vegeta (which speaks only HTTP).

A small SMTP client on asyncio streams, connections reused across messages (as a mail
relay does: MAIL, RCPT, DATA, then the next message on the same session). Open loop like
the HTTP generator: message i is due at `t0 + i / rate`, its latency counts from then, and
a message waits for a free connection (opening a new one up to `max_connections`) rather
than delaying the schedule. Intake answers DATA with 250 only once the complaint is
committed, quoting its receipt code: that answer is "accepted".
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from bench.payloads import Mail

__all__ = ["SmtpLoad", "dot_stuff"]

_RECEIPT = re.compile(rb"\bADU-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def dot_stuff(data: bytes) -> bytes:
    """The DATA payload: CRLF line ends, a leading '.' doubled, ended by CRLF.CRLF."""
    text = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lines = [b"." + line if line.startswith(b".") else line for line in text.split(b"\r\n")]
    body = b"\r\n".join(lines)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self) -> tuple[int, bytes]:
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("SMTP connection closed")
            lines.append(line)
            if line[3:4] != b"-":
                return int(line[:3]), b"".join(lines)

    async def command(self, line: bytes) -> tuple[int, bytes]:
        self.writer.write(line + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


@dataclass
class SmtpLoad:
    host: str
    port: int
    max_connections: int = 16
    timeout_s: float = 120.0
    # (index, message id, intended, answered, receipt code) per accepted message
    accepted: list[tuple[int, str, float, float, str]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    _idle: list[_Session] = field(default_factory=list)
    _open: int = 0

    async def _session(self) -> _Session:
        if self._idle:
            return self._idle.pop()
        self._open += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            s = _Session(reader, writer)
            code, _ = await s.reply()
            if code != 220:
                raise ConnectionError(f"greeting {code}")
            code, _ = await s.command(b"EHLO bench.example.org")
            if code != 250:
                raise ConnectionError(f"EHLO {code}")
            return s
        except BaseException:
            self._open -= 1
            raise

    async def send(self, i: int, mail: Mail, intended: float, slots: asyncio.Semaphore) -> None:
        async with slots:
            try:
                s = await self._session()
            except (OSError, ConnectionError) as exc:
                self._fail(type(exc).__name__)
                return
            try:
                code, text = await asyncio.wait_for(self._transaction(s, mail), self.timeout_s)
            except (OSError, ConnectionError, TimeoutError, ValueError) as exc:
                s.close()
                self._open -= 1
                self._fail(type(exc).__name__)
                return
            self._idle.append(s)
        now = time.time()
        found = _RECEIPT.search(text)
        if code == 250 and found:
            self.accepted.append((i, mail.message_id, intended, now, found.group().decode()))
        else:
            self._fail(str(code))

    async def _transaction(self, s: _Session, mail: Mail) -> tuple[int, bytes]:
        code, text = await s.command(b"MAIL FROM:<" + mail.mail_from.encode() + b">")
        if code != 250:
            await s.command(b"RSET")
            return code, text
        code, text = await s.command(b"RCPT TO:<" + mail.rcpt_to.encode() + b">")
        if code != 250:
            await s.command(b"RSET")
            return code, text
        code, text = await s.command(b"DATA")
        if code != 354:
            return code, text
        s.writer.write(dot_stuff(mail.data))
        await s.writer.drain()
        return await s.reply()

    def _fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1

    async def run(self, mails: list[Mail], rate: float) -> float:
        """Send every mail, `rate` a second; returns the schedule's start (epoch)."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self.max_connections)
        start_mono, start_wall = loop.time(), time.time()
        tasks = set()
        for i, mail in enumerate(mails):
            delay = start_mono + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            t = asyncio.create_task(self.send(i, mail, start_wall + i / rate, slots))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return start_wall

    async def close(self) -> None:
        for s in self._idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(s.command(b"QUIT"), 2)
            s.close()
        self._idle.clear()

    def histogram(self) -> HdrHistogram:
        h = HdrHistogram(1, 600_000_000, 3)
        for _, _, intended, answered, _ in self.accepted:
            h.record_value(min(600_000_000, max(1, int((answered - intended) * 1e6))))
        return h
