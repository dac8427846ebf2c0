"""Local stand-ins for the outside world, so a person can see what would have been sent.

`python -m aduan_notifier.sinks` (started by `make up`) runs:
- an SMTP server (aiosmtpd) on 127.0.0.1:8025 that stores every message as an `.eml` file
  under `.run/sinks/mail/`;
- an HTTP sink on 127.0.0.1:8090 that answers like the providers (SMS gateway, WhatsApp
  Cloud API, Messenger/Instagram Send API, X DMs, the push webhook), stores every request as
  JSON under `.run/sinks/http/`, and lists everything on its front page.

The same classes serve as the simulated providers in the notifier's tests, where a
`responder` scripts the answers (a 503, then a 200; a 400; a hung connection).

Development only: the files hold the reporters' addresses and messages. It binds to
127.0.0.1, and masks credentials before storing a request. Run as a process, it keeps only
the files (tests in-process keep every message in memory too): `make up` runs for days.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import itertools
import json
import os
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, MutableSequence
from dataclasses import dataclass, field, fields
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from aduan_kit.server import QuietServer

__all__ = ["HttpSink", "MailSink", "Recorded", "main"]


def _stamp(counter: itertools.count[int]) -> str:
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{next(counter):05d}"


def _mask(name: str, value: str) -> str:
    if name.lower() in ("authorization", "x-api-key", "api-key", "apikey"):
        scheme, _, secret = value.partition(" ")
        secret = secret or scheme
        return f"{scheme + ' ' if secret is not scheme else ''}…{secret[-4:]}"
    return value


# --- SMTP ------------------------------------------------------------------------------------


@dataclass
class Mail:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    file: str | None = None

    def parsed(self) -> Any:
        return message_from_bytes(self.data, policy=policy.default)


# A plain address in angle brackets ("<warga@example.com>", then any parameters): what every
# sender of ours writes in MAIL FROM and RCPT TO.
_PLAIN_ADDRESS = re.compile(
    r"<([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(.*)",
    re.DOTALL,
)


class _SinkSMTP(SMTP):
    """aiosmtpd's server, reading a plain address without the e-mail package's full header
    parser (which was two fifths of what a message cost the sinks); anything else (a quoted
    local part, a comment, a route) still goes to that parser."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _PLAIN_ADDRESS.fullmatch(arg.lstrip())
        if match is None or self.local_part_limit:
            return super()._getaddr(arg)
        return match.group(1), match.group(2).lstrip()


class _SinkController(Controller):
    def factory(self) -> SMTP:
        return _SinkSMTP(self.handler, **self.SMTP_kwargs)


def _kept(keep: int | None) -> Any:
    """Every item (None: tests read them all), else the last `keep` (0: none)."""
    return [] if keep is None else deque(maxlen=keep)


class MailSink:
    """An aiosmtpd handler that keeps the messages (all, or the last `keep`) and writes each
    to `directory`."""

    def __init__(self, directory: Path | None = None, keep: int | None = None) -> None:
        self.directory = directory
        self.messages: MutableSequence[Mail] = _kept(keep)
        self._counter = itertools.count(1)
        if directory:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        mail = Mail(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], content)
        if self.directory:
            path = self.directory / f"{_stamp(self._counter)}.eml"
            path.write_bytes(content)
            mail.file = path.name
        self.messages.append(mail)
        return "250 Message accepted for delivery"

    def controller(self, host: str = "127.0.0.1", port: int = 8025) -> Controller:
        """The server on a thread of its own (tests beside their own loop)."""
        return _SinkController(self, hostname=host, port=port)

    async def serve(self, host: str = "127.0.0.1", port: int = 8025) -> asyncio.Server:
        """The server on the running loop: the process's one loop (uvloop) serves SMTP and
        HTTP, with no second thread and loop beside it (the thread's plain asyncio loop was
        a third of what a message cost the sinks). The SMTP options are the controller's."""
        return await asyncio.get_running_loop().create_server(
            lambda: _SinkSMTP(self, hostname=host, enable_SMTPUTF8=True), host, port
        )


# --- HTTP ------------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request as a provider would have received it (credentials masked on disk)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: str
    json: Any = None
    form: dict[str, str] | None = None
    at: float = field(default_factory=time.time)
    duplicate: bool = False
    answer_status: int = 0

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


Responder = Callable[[Recorded], Awaitable[Response | None]]


def provider_answer(rec: Recorded, message_id: str) -> Response:
    """What each provider answers on success, close enough for our adapters to read."""
    body = rec.json if isinstance(rec.json, dict) else {}
    if "/dm_conversations/" in rec.path:
        conversation = rec.path.split("/dm_conversations/with/")[-1].split("/")[0]
        return JSONResponse(
            {"data": {"dm_conversation_id": f"{conversation}-0", "dm_event_id": message_id}},
            status_code=201,
        )
    if body.get("messaging_product") == "whatsapp":
        to = str(body.get("to", ""))
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": f"wamid.{message_id}"}],
            }
        )
    if isinstance(body.get("recipient"), dict):
        return JSONResponse(
            {"recipient_id": body["recipient"].get("id"), "message_id": f"m_{message_id}"}
        )
    return JSONResponse({"id": message_id, "message_id": message_id, "status": "accepted"})


class HttpSink:
    """Records every request; answers like the provider unless `responder` answers first.
    Repeats of an `Idempotency-Key` are recorded as duplicates and get the first answer's id,
    as a provider that honours the key would do."""

    # Idempotency keys remembered: a provider honours a key for a day or so; a retry of
    # ours comes within minutes, far fewer than this many messages later.
    KEYS_KEPT = 100_000

    def __init__(
        self,
        directory: Path | None = None,
        responder: Responder | None = None,
        keep: int | None = None,
    ) -> None:
        self.directory = directory
        self.responder = responder
        self.requests: MutableSequence[Recorded] = _kept(keep)
        self._ids: dict[str, str] = {}
        self._counter = itertools.count(1)
        self._server: QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.arrived = asyncio.Event()
        if directory:
            directory.mkdir(parents=True, exist_ok=True)
        self.app = Starlette(
            routes=[
                Route("/", self._index, methods=["GET"]),
                Route("/health", self._health, methods=["GET"]),
                Route("/files/{kind}/{name}", self._file, methods=["GET"]),
                Route("/{path:path}", self._record, methods=["POST", "PUT"]),
            ]
        )
        self.mail_directory: Path | None = None

    async def _health(self, _: Request) -> Response:
        return JSONResponse({"status": "ok", "service": "sinks"})

    async def _record(self, request: Request) -> Response:
        raw = await request.body()
        text = raw.decode(errors="replace")
        parsed: Any = None
        form: dict[str, str] | None = None
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            with contextlib.suppress(ValueError):
                parsed = json.loads(text)
        elif "x-www-form-urlencoded" in content_type:
            form = dict(parse_qsl(text))
        rec = Recorded(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=text,
            json=parsed,
            form=form,
        )
        key = rec.header("idempotency-key")
        rec.duplicate = key is not None and key in self._ids
        self.requests.append(rec)
        self.arrived.set()
        response: Response | None = None
        if self.responder is not None:
            response = await self.responder(rec)
        if response is None:
            message_id = self._ids.get(key or "") or uuid.uuid4().hex
            if key:
                self._ids[key] = message_id
                if len(self._ids) > self.KEYS_KEPT:
                    del self._ids[next(iter(self._ids))]  # the oldest (dicts keep order)
            response = provider_answer(rec, message_id)
        rec.answer_status = response.status_code
        if self.directory:
            # A shallow copy: `asdict` copies the parsed body deeply, for nothing.
            stored = {f.name: getattr(rec, f.name) for f in fields(rec)}
            stored["headers"] = {k: _mask(k, v) for k, v in rec.headers.items()}
            name = f"{_stamp(self._counter)}.json"
            (self.directory / name).write_text(json.dumps(stored, indent=2, ensure_ascii=False))
        return response

    async def _file(self, request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        base = {"http": self.directory, "mail": self.mail_directory}.get(kind)
        if base is None or "/" in name or name.startswith("."):
            return PlainTextResponse("not found", status_code=404)
        path = base / name
        if not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return PlainTextResponse(path.read_text(errors="replace"))

    async def _index(self, _: Request) -> Response:
        rows: list[str] = []
        if self.mail_directory and self.mail_directory.is_dir():
            for path in sorted(self.mail_directory.glob("*.eml"), reverse=True)[:200]:
                msg = message_from_bytes(path.read_bytes(), policy=policy.default)
                rows.append(
                    "<tr><td>e-mail</td>"
                    f"<td>{html.escape(str(msg.get('To', '')))}</td>"
                    f"<td>{html.escape(str(msg.get('Subject', '')))}</td>"
                    f'<td><a href="/files/mail/{path.name}">{path.name}</a></td></tr>'
                )
        if self.directory and self.directory.is_dir():
            for path in sorted(self.directory.glob("*.json"), reverse=True)[:200]:
                try:
                    rec = json.loads(path.read_text())
                except ValueError:
                    continue
                dup = " (repeat)" if rec.get("duplicate") else ""
                rows.append(
                    f"<tr><td>{html.escape(rec['method'])}</td>"
                    f"<td>{html.escape(rec['path'])}{dup}</td>"
                    f"<td>{html.escape(rec['body'][:160])}</td>"
                    f'<td><a href="/files/http/{path.name}">{path.name}</a></td></tr>'
                )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Aduan sinks</title>"
            "<style>body{font-family:sans-serif}td{border-bottom:1px solid #ddd;padding:4px;"
            "vertical-align:top}</style></head><body><h1>What the notifier would have sent</h1>"
            "<p>Newest first. Development only: these files hold reporters' addresses.</p>"
            "<table><tr><th>kind</th><th>to / path</th><th>subject / body</th><th>file</th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )
        return HTMLResponse(page)

    # --- running in-process (tests) ---------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on `port` (0: a free one); returns the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", timeout_keep_alive=5
        )
        self._server = QuietServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
            await asyncio.sleep(0.02)
        return f"http://{host}:{sock.getsockname()[1]}"

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    env = os.environ.get
    parser.add_argument(
        "--dir", default=env("ADUAN_SINKS_DIR", ".run/sinks"), help="where messages are stored"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=int(env("ADUAN_SINKS_SMTP_PORT", "8025")))
    parser.add_argument("--http-port", type=int, default=int(env("ADUAN_SINKS_HTTP_PORT", "8090")))
    args = parser.parse_args()
    root = Path(args.dir)
    # The files are the record (the front page reads them): nothing kept in memory.
    mail = MailSink(root / "mail", keep=0)
    sink = HttpSink(root / "http", keep=0)
    sink.mail_directory = root / "mail"

    config = uvicorn.Config(
        sink.app, host=args.host, port=args.http_port, log_config=None, access_log=False
    )

    async def serve() -> None:
        smtp = await mail.serve(args.host, args.smtp_port)
        print(
            f"sinks: SMTP {args.host}:{args.smtp_port}, HTTP http://{args.host}:{args.http_port}/ "
            f"(stored under {root})",
            flush=True,
        )
        try:
            await QuietServer(config).serve()
        finally:
            smtp.close()

    # uvicorn's loop (uvloop where installed) for both servers.
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())


if __name__ == "__main__":
    main()
