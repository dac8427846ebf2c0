"""The one Open311 GeoReport v2 root (https://wiki.open311.org/GeoReport_v2) that a civic
app is configured with: `<portal>/open311/v2/`, and its service discovery
(https://wiki.open311.org/Service_Discovery) at `<portal>/open311/discovery.{json,xml}`
(also under `/open311/v2/`). docs/open311.md documents it; docs/decisions.md says why here.

A small facade that owns no data and keeps the boundary: what a client writes goes to
intake (`POST requests`, and the service list and definitions, which are intake's catalogue
copy and its rules for a filing); what it reads about reports comes from the privacy
gateway (`GET requests`, `GET requests/{id}`, `GET tokens/{token}`), which alone decides
what is public. Both answer JSON in the spec's shapes; this module checks `jurisdiction_id`,
renders the spec's XML (`.xml`) or passes the JSON on (`.json`), and turns any refusal into
the spec's error array (`<errors><error><code/><description/></error></errors>`).
The client's address travels in `X-Forwarded-For` (intake and the gateway trust the portal
as a proxy), so rate limits count each client, not the portal.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element, SubElement, indent, tostring

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from aduan_kit.logging import get_logger
from aduan_portal.config import Settings

__all__ = ["SPECIFICATION", "open311_router", "render"]

log = get_logger(__name__)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
MAX_BODY = 64 * 1024
# Service requests are relayed as <service_requests><request>...</request></service_requests>.
REQUESTS = ("service_requests", "request")
# XML's element name for one item of each list the spec's documents hold.
_ITEM = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}
# Characters XML 1.0 cannot carry at all (a control character in a text would make the
# whole answer unreadable to a client's parser).
_XML_ILLEGAL = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])


def _element(parent: Element, name: str, value: Any) -> None:
    node = SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _element(node, _ITEM.get(name, "item"), item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _element(node, str(key), item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value).translate(_XML_ILLEGAL)


def render(
    body: Any,
    fmt: str,
    root: str,
    item: str | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`body` as the spec's JSON, or as its XML: a list becomes `<root><item>...</item>`,
    a mapping `<root><field>...</field>` (a discovery document, a service definition)."""
    if fmt == "json":
        content = json.dumps(body, ensure_ascii=False).encode()
    else:
        top = Element(root)
        if isinstance(body, list):
            for entry in body:
                _element(top, item or "item", entry)
        else:
            for key, value in body.items():
                _element(top, key, value)
        indent(top)  # readable with curl; whitespace between elements only
        declaration = '<?xml version="1.0" encoding="UTF-8"?>\n'
        content = (declaration + tostring(top, encoding="unicode")).encode()
    return Response(content, status_code=status, media_type=FORMATS[fmt], headers=headers)


# "HTTP error codes should always be 404 for resources that don't exist, 403 for errors
# because of wrong or missing api_key and basically 400 for any other error"; the body's
# code may be more specific (413, 415, 409). Kept as they are: 429 (with Retry-After) and
# 503, which tell a client to wait and retry rather than to change its request.
_HTTP_STATUSES = {400, 403, 404, 429, 503}


def errors(
    fmt: str, code: int, *descriptions: str, headers: dict[str, str] | None = None
) -> Response:
    body = [{"code": code, "description": d} for d in descriptions]
    status = code if code in _HTTP_STATUSES else 400
    return render(body, fmt if fmt in FORMATS else "json", "errors", "error", status, headers)


def _refusal(upstream: httpx.Response) -> list[str]:
    """The descriptions of an upstream refusal: the spec's array when intake or the gateway
    answered one, else their `detail` (a FastAPI error, e.g. the NUL guard), else the
    status's phrase."""
    try:
        body = upstream.json()
    except ValueError:
        body = None
    if isinstance(body, list) and all(isinstance(e, dict) and "description" in e for e in body):
        return [str(e["description"]) for e in body] or [upstream.reason_phrase]
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return [body["detail"]]
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return ["; ".join(str(d.get("msg", d)) for d in body["detail"] if isinstance(d, dict))]
    return [upstream.reason_phrase or "refused"]


def open311_router(
    settings: Settings,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
    intake_transport: httpx.AsyncBaseTransport | None = None,
) -> APIRouter:
    router = APIRouter(tags=["Open311 GeoReport v2"])
    timeout = settings.track_timeout_s * 2
    started = datetime.now(UTC).replace(microsecond=0)
    # The catalogue's last change as intake last told it (discovery's changeset).
    changeset: dict[str, datetime] = {}

    def client_chain(request: Request) -> str | None:
        peer = request.client.host if request.client is not None else None
        return ", ".join(h for h in (request.headers.get("x-forwarded-for"), peer) if h) or None

    def headers_of(request: Request, *names: str) -> dict[str, str]:
        out = {"Accept": "application/json"}
        chain = client_chain(request)
        if chain:
            out["X-Forwarded-For"] = chain
        for name in names:
            if name in request.headers:
                out[name] = request.headers[name]
        return out

    async def call(
        service: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        params: list[tuple[str, str]] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response | None:
        base, transport = (
            (settings.intake_url, intake_transport)
            if service == "intake"
            else (settings.gateway_url, gateway_transport)
        )
        try:
            async with httpx.AsyncClient(
                base_url=base.rstrip("/"), timeout=timeout, transport=transport
            ) as client:
                return await client.request(
                    method,
                    path,
                    params=urlencode(params) if params else None,
                    content=content,
                    headers=dict(headers),
                )
        except httpx.HTTPError as exc:
            # Only the kind of failure: paths and bodies may carry a token or a complaint.
            log.warning("open311 upstream unreachable", service=service, error=type(exc).__name__)
            return None

    def relay(upstream: httpx.Response | None, fmt: str, root: str, item: str | None) -> Response:
        if upstream is None:
            return errors(fmt, 503, "the service is unavailable; try again in a minute")
        extra = (
            {"Retry-After": upstream.headers["retry-after"]}
            if "retry-after" in upstream.headers
            else {}
        )
        if upstream.status_code >= 500:
            return errors(
                fmt, 503, "the service is unavailable; try again in a minute", headers=extra
            )
        if upstream.status_code >= 400:
            return errors(fmt, upstream.status_code, *_refusal(upstream), headers=extra)
        try:
            body = upstream.json()
        except ValueError:
            return errors(fmt, 503, "the service answered something unreadable")
        return render(body, fmt, root, item, upstream.status_code, extra)

    def wrong(fmt: str, jurisdiction: str | None) -> Response | None:
        """The answer when the request cannot be served here: an unknown format (the spec's
        formats are json and xml) or another jurisdiction (one is served here; giving
        ours or none is the same)."""
        if fmt not in FORMATS:
            return errors("json", 404, "format not found: use .json or .xml")
        if jurisdiction and jurisdiction.strip() != settings.open311_jurisdiction_id:
            return errors(fmt, 404, "jurisdiction_id not found")
        return None

    def root_url(request: Request) -> str:
        """The configured public root, else the one this request came to: behind an ingress
        that terminates TLS, as its X-Forwarded-Proto/-Host say. A client can only change
        the document it is sent itself (answered `no-store`, so no cache keeps it)."""
        if settings.open311_url:
            return settings.open311_url.rstrip("/")
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
        host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
        base = request.base_url
        scheme = proto if proto in ("http", "https") else base.scheme
        return f"{scheme}://{host or base.netloc}/open311/v2"

    async def discovery(request: Request, fmt: str) -> Response:
        refused = wrong(fmt, None)
        if refused is not None:
            return refused
        # The catalogue's last change (intake's services list's Last-Modified): what tells
        # a client that the service list or definitions changed.
        upstream = await call("intake", "GET", "/open311/v2/services.json", headers_of(request))
        modified = upstream.headers.get("last-modified") if upstream is not None else None
        if modified:
            with contextlib.suppress(TypeError, ValueError):
                changeset["catalogue"] = parsedate_to_datetime(modified).astimezone(UTC)
        changed = changeset.get("catalogue", started).isoformat().replace("+00:00", "Z")
        document = {
            "changeset": changed,
            "contact": settings.open311_contact,
            "key_service": settings.open311_key_service,
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": root_url(request),
                    "changeset": changed,
                    "type": "production" if settings.environment == "production" else "test",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return render(document, fmt, "discovery", None, headers={"Cache-Control": "no-store"})

    @router.get("/open311/discovery.{fmt}", include_in_schema=True)
    async def discovery_top(request: Request, fmt: str) -> Response:
        """Service discovery: the GeoReport v2 endpoint, its formats, contact, API keys."""
        return await discovery(request, fmt)

    @router.get("/open311/v2/discovery.{fmt}")
    async def discovery_v2(request: Request, fmt: str) -> Response:
        """The same discovery document, under the root a client was given."""
        return await discovery(request, fmt)

    async def forward(
        request: Request,
        fmt: str,
        service: str,
        path: str,
        shape: tuple[str, str | None],
        params: list[tuple[str, str]] | None = None,
        forward_header: str | None = None,
    ) -> Response:
        """A GET answered by `service` in JSON, relayed in the asked format under the
        `shape` (root element, item element); the jurisdiction is checked here."""
        refused = wrong(fmt, request.query_params.get("jurisdiction_id"))
        if refused is not None:
            return refused
        extra = (forward_header,) if forward_header else ()
        upstream = await call(service, "GET", path, headers_of(request, *extra), params)
        return relay(upstream, fmt, *shape)

    @router.get("/open311/v2/services.{fmt}")
    async def services(request: Request, fmt: str) -> Response:
        """GET Service List: the active categories of the catalogue (intake's copy)."""
        params = [("lang", v) for v in request.query_params.getlist("lang")]
        return await forward(
            request,
            fmt,
            "intake",
            "/open311/v2/services.json",
            ("services", "service"),
            params,
            forward_header="accept-language",
        )

    @router.get("/open311/v2/services/{service_code}.{fmt}")
    async def service_definition(request: Request, service_code: str, fmt: str) -> Response:
        """GET Service Definition: the attributes a request in that service may carry."""
        path = f"/open311/v2/services/{quote(service_code, safe='')}.json"
        return await forward(request, fmt, "intake", path, ("service_definition", None))

    @router.post("/open311/v2/requests.{fmt}", status_code=201)
    async def create_request(request: Request, fmt: str) -> Response:
        """POST Service Request (form-encoded), filed by intake. Answers a token: see
        `GET tokens/{token}`."""
        if fmt not in FORMATS:
            return errors("json", 404, "format not found: use .json or .xml")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return errors(fmt, 413, f"the request body may be at most {MAX_BODY} bytes")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return errors(fmt, 415, "post the request as application/x-www-form-urlencoded")
        # The form parser reads what was already read (starlette keeps the body).
        request._body = body
        try:
            form = await request.form(max_files=0, max_fields=64, max_part_size=16 * 1024)
        except Exception:  # starlette raises its HTTPException or MultiPartException
            return errors(fmt, 400, "the form cannot be read (fields only, no file uploads)")
        fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        refused = wrong(fmt, dict(fields).get("jurisdiction_id"))
        if refused is not None:
            return refused
        headers = headers_of(request, "idempotency-key")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        upstream = await call(
            "intake",
            "POST",
            "/open311/v2/requests.json",
            headers,
            content=urlencode(fields).encode(),
        )
        return relay(upstream, fmt, *REQUESTS)

    @router.get("/open311/v2/requests.{fmt}")
    async def list_requests(request: Request, fmt: str) -> Response:
        """GET Service Requests: public reports only (the gateway's public view)."""
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "jurisdiction_id"]
        path = "/open311/v2/requests.json"
        return await forward(request, fmt, "gateway", path, REQUESTS, params)

    @router.get("/open311/v2/requests/{service_request_id}.{fmt}")
    async def one_request(request: Request, service_request_id: str, fmt: str) -> Response:
        """GET Service Request: one public report, as a list of one."""
        path = f"/open311/v2/requests/{quote(service_request_id, safe='')}.json"
        return await forward(request, fmt, "gateway", path, REQUESTS)

    @router.get("/open311/v2/tokens/{token}.{fmt}")
    async def token(request: Request, token: str, fmt: str) -> Response:
        """GET service_request_id from a token (the token a POST answered)."""
        path = f"/open311/v2/tokens/{quote(token, safe='')}.json"
        return await forward(request, fmt, "gateway", path, REQUESTS)

    return router
