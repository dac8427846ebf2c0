"""Request guard every service's app runs (`ServiceRuntime.create_app`): a NUL byte anywhere
in a request is refused with a 400 that says where it was.

PostgreSQL text cannot hold U+0000: asyncpg raises on such a parameter, and every route that
passed a user's string to a query answered an unhandled 500 (login, list filters, track,
the portal's pages...). Checking per endpoint misses the next one, so this plain ASGI
middleware refuses the request before any route sees it:

- the URL path (`/reports/%00`) and the query string (`?area=%00`), after percent-decoding;
- header values (a raw NUL, which some HTTP servers let through);
- bodies whose text a route reads: JSON (a `\\u0000` escape, or a raw NUL, in any string or
  key), URL-encoded forms (`%00`), `text/*`, and multipart forms' text fields and JSON or
  text parts. Binary parts (photos) and other binary bodies legitimately hold NUL bytes and
  are not looked at.

A body of up to 1 MiB is read and checked before the route runs (then handed to it
unchanged); a larger one is checked as the route reads it: when the route asks for the chunk
that completes a NUL, the guard refuses the whole request instead (whatever the route does
with the failed read, its answer is replaced by the guard's 400). Never logged: the values.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from python_multipart.multipart import MultipartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aduan_kit.logging import get_logger

__all__ = ["PRE_READ_BYTES", "RejectNulBytes", "needs_body_check", "nul_reason", "refuse_nul"]

log = get_logger(__name__)

PRE_READ_BYTES = 1024 * 1024

# `\u0000` preceded by an even number of backslashes (none included): an escape that JSON
# decodes to NUL. With an odd number the backslash itself is escaped and the text is the
# harmless six characters `\u0000`.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class _Refused(Exception):
    """Raised from the guarded `receive` when the body holds a NUL; the route's own error
    handling of it does not matter, the middleware answers."""


def _json_has_nul(data: bytes) -> bool:
    if b"\x00" in data:
        return True
    return b"\\u0000" in data and _JSON_NUL.search(data) is not None


def _pairs_reason(encoded: bytes, where: str) -> str | None:
    """The reason a URL-encoded string (query string, form body) is refused, naming the
    parameter when its own name is clean; None when it holds no NUL."""
    if b"\x00" not in unquote_to_bytes(encoded.replace(b"+", b" ")):
        return None
    for pair in encoded.split(b"&"):
        name, _, value = pair.partition(b"=")
        raw_name = unquote_to_bytes(name.replace(b"+", b" "))
        if b"\x00" in raw_name:
            return f"a parameter name in the {where} contains a NUL byte (%00)"
        if b"\x00" in unquote_to_bytes(value.replace(b"+", b" ")):
            shown = raw_name.decode("utf-8", "replace")[:64]
            return f"the {where} parameter {shown!r} contains a NUL byte (%00)"
    return f"the {where} contains a NUL byte (%00)"  # pragma: no cover - found above


def nul_reason(scope: Scope) -> str | None:
    """Why the request line or headers are refused, or None when they hold no NUL."""
    if "\x00" in scope.get("path", "") or b"%00" in scope.get("raw_path", b"").lower():
        return "the URL path contains a NUL byte (%00), which no value may hold"
    query: bytes = scope.get("query_string", b"")
    if query:
        reason = _pairs_reason(query, "query string")
        if reason is not None:
            return reason
    for name, value in scope.get("headers", ()):
        if b"\x00" in name or b"\x00" in value:
            return "a request header contains a NUL byte"
    return None


class _BodyScanner:
    """Looks at a body as it streams in; `feed` returns the reason to refuse, once known."""

    def __init__(self, kind: str, boundary: bytes = b"") -> None:
        self.kind = kind
        self.buffer = bytearray()
        self.reason: str | None = None
        self.parser: MultipartParser | None = None
        if kind == "multipart":
            self._start_multipart(boundary)

    # -- multipart: one part at a time, text parts checked whole at their end -------------

    def _start_multipart(self, boundary: bytes) -> None:
        header_name = bytearray()
        header_value = bytearray()
        part: dict[str, Any] = {}

        def on_part_begin() -> None:
            part.clear()
            part.update(binary=False, data=bytearray(), headers={})

        def on_header_field(data: bytes, start: int, end: int) -> None:
            header_name.extend(data[start:end])

        def on_header_value(data: bytes, start: int, end: int) -> None:
            header_value.extend(data[start:end])

        def on_header_end() -> None:
            if b"\x00" in header_name or b"\x00" in header_value:
                self.reason = "a header of a multipart form part contains a NUL byte"
            part["headers"][bytes(header_name).strip().lower()] = bytes(header_value).strip()
            header_name.clear()
            header_value.clear()

        def on_headers_finished() -> None:
            headers = part["headers"]
            disposition = headers.get(b"content-disposition", b"").lower()
            ctype = headers.get(b"content-type", b"").lower().decode("latin-1")
            is_file = b"filename" in disposition
            # A file part that is text (a JSON `report` part, say) is read as text; a photo
            # is not text and may hold any byte.
            part["binary"] = is_file and not (ctype.startswith("text/") or "json" in ctype)
            part["name"] = _field_name(disposition)

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if part.get("binary", True):
                return
            chunk = data[start:end]
            if b"\x00" in chunk:
                part["nul"] = True
            # Kept for the escape check at the part's end; a text field larger than this is
            # refused by the route's own form parser anyway.
            if len(part["data"]) < PRE_READ_BYTES:
                part["data"].extend(chunk)

        def on_part_end() -> None:
            if part.get("binary", True):
                return
            # Escapes too, not only raw NULs: the citizen app sends its JSON `report` as a
            # plain text field, and a JSON part may come without a Content-Type. A text
            # field holding the six characters `\u0000` is refused with it.
            if part.get("nul") or _json_has_nul(bytes(part["data"])):
                name = part.get("name")
                self.reason = (
                    f"the form field {name!r} contains a NUL character"
                    if name
                    else "a multipart form part contains a NUL character"
                )

        callbacks: Any = {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        }
        self.parser = MultipartParser(boundary, callbacks)

    def feed(self, chunk: bytes, more: bool) -> str | None:
        if self.reason is not None or (not chunk and more):
            return self.reason
        if self.kind == "multipart":
            if self.parser is not None:
                try:
                    self.parser.write(chunk)
                except Exception:
                    # Malformed multipart: the route's own parser answers that; stop here.
                    self.parser = None
            return self.reason
        if self.kind == "text":
            if b"\x00" in chunk:
                self.reason = "the body contains a NUL byte"
            return self.reason
        # JSON and URL-encoded forms are only usable whole: checked when complete.
        self.buffer.extend(chunk)
        if more:
            return None
        body = bytes(self.buffer)
        if self.kind == "json" and _json_has_nul(body):
            self.reason = "the JSON body contains a NUL character (\\u0000): no value may hold one"
        elif self.kind == "form":
            self.reason = _pairs_reason(body, "form")
        return self.reason


def _field_name(disposition: bytes) -> str | None:
    match = re.search(rb'(?:^|;)\s*name="([^"]{1,64})"', disposition)
    if match is None or b"\x00" in match.group(1):
        return None
    return match.group(1).decode("utf-8", "replace")


def _scanner_for(scope: Scope) -> _BodyScanner | None:
    """How to look at this request's body, from its Content-Type; None: not text."""
    if scope.get("method") in _BODILESS:
        return None
    ctype = ""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            ctype = value.decode("latin-1")
            break
    main, _, params = ctype.partition(";")
    main = main.strip().lower()
    # FastAPI reads a body without a Content-Type as JSON.
    if not main or main == "application/json" or main.endswith("+json"):
        return _BodyScanner("json")
    if main == "application/x-www-form-urlencoded":
        return _BodyScanner("form")
    if main.startswith("text/"):
        return _BodyScanner("text")
    if main == "multipart/form-data":
        match = re.search(r'boundary="?([^";]+)"?', params, re.IGNORECASE)
        if match is None:
            return None  # the route refuses a multipart body without a boundary itself
        return _BodyScanner("multipart", match.group(1).encode("latin-1"))
    return None


async def _refuse(send: Send, reason: str) -> None:
    body = json.dumps({"detail": reason}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _where(reason: str | None) -> str:
    # The part of the reason naming the place (never a value): "the query string
    # parameter 'area'".
    return (reason or "").split(" contains")[0]


async def refuse_nul(send: Send, reason: str) -> None:
    """The 400 for a NUL in the path, query or headers (`nul_reason`), logged."""
    log.info("request refused: NUL byte", where=_where(reason))
    await _refuse(send, reason)


def needs_body_check(scope: Scope) -> bool:
    """Whether the request may have a body `RejectNulBytes` must read and check (the
    methods `_scanner_for` skips have none)."""
    return scope.get("method") not in _BODILESS


_BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


class RejectNulBytes:
    """Plain ASGI middleware (no extra task per request, as `CorrelationMiddleware`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reason = nul_reason(scope)
        if reason is not None:
            log.info("request refused: NUL byte", where=_where(reason))
            await _refuse(send, reason)
            return
        scanner = _scanner_for(scope)
        if scanner is None:
            await self.app(scope, receive, send)
            return
        # Bodies up to PRE_READ_BYTES (every JSON and form this platform takes) are read and
        # checked before the route runs, so the answer is the same 400 whether or not the
        # route would have read its body (a 401 before reading, say). Larger bodies (forms
        # with photos) are checked as the route reads them.
        early: list[Message] = []
        size = 0
        while size <= PRE_READ_BYTES:
            message = await receive()
            early.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if scanner.feed(chunk, more) is not None:
                log.info("request refused: NUL byte", where=_where(scanner.reason))
                await _refuse(send, scanner.reason or "")
                return
            if not more:
                break
        answered = False

        async def guarded_receive() -> Message:
            if early:
                return early.pop(0)
            message = await receive()
            if (
                message["type"] == "http.request"
                and scanner.reason is None
                and scanner.feed(message.get("body", b""), message.get("more_body", False))
            ):
                raise _Refused
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered
            if scanner.reason is not None and not answered:
                return  # the route's answer to a body the guard refused: replaced below
            answered = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            # `_Refused` itself, or whatever the route made of it: the guard answers.
            if scanner.reason is None or answered:
                raise
        if scanner.reason is not None and not answered:
            log.info("request refused: NUL byte", where=_where(scanner.reason))
            await _refuse(send, scanner.reason)
