"""What the three Meta webhooks (WhatsApp Cloud API, Messenger, Instagram) share: the GET
verification handshake, the `X-Hub-Signature-256` check, and the request → answer shape."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import SecretStr

from aduan_intake.domain import InvalidField
from aduan_intake.entrypoints.channels.common import (
    BodyTooLarge,
    ChannelContext,
    Ignored,
    Inbound,
    Media,
    ProblemBody,
    WebhookAnswer,
    file_inbound,
    key_matches,
    limit_by_address,
    problem,
    read_body,
    too_large,
    verify_hub_signature,
)
from aduan_kit.logging import get_logger

__all__ = ["mount_meta_webhook"]

log = get_logger(__name__)

# Meta's payloads are small JSON documents (media come by reference).
MAX_WEBHOOK_BYTES = 1024 * 1024


def mount_meta_webhook(
    api: APIRouter,
    ctx: ChannelContext,
    verify_token: Callable[[], SecretStr | None],
    app_secret: Callable[[], SecretStr | None],
    normalize: Callable[[Any], Sequence[Inbound | Ignored]],
    fetch: Callable[[Media], Awaitable[bytes]],
) -> None:
    """GET: the subscription handshake; POST: signed deliveries, each message filed."""

    @api.get(
        "",
        response_class=PlainTextResponse,
        responses={
            400: {"model": ProblemBody},
            403: {"model": ProblemBody},
            429: {"model": ProblemBody},
        },
    )
    async def verify_subscription(request: Request) -> Response:
        """Meta's verification request: echo `hub.challenge` when `hub.verify_token` matches."""
        if (refused := await limit_by_address(ctx, "verify", request)) is not None:
            return refused
        params = request.query_params
        if params.get("hub.mode") != "subscribe" or "hub.challenge" not in params:
            return problem(
                400, "not_a_verification", "expected hub.mode=subscribe and hub.challenge"
            )
        token = verify_token()
        if token is None or not key_matches(params.get("hub.verify_token"), [token]):
            return problem(403, "verify_token_mismatch", "hub.verify_token does not match")
        return PlainTextResponse(params["hub.challenge"])

    @api.post(
        "",
        response_model=WebhookAnswer,
        responses={
            400: {"model": ProblemBody},
            401: {"model": ProblemBody},
            403: {"model": ProblemBody},
            413: {"model": ProblemBody},
            415: {"model": ProblemBody},
            502: {"model": ProblemBody},
        },
    )
    async def deliver(request: Request) -> Response:
        """A signed webhook delivery; 200 once every message in it is durable."""
        try:
            body = await read_body(request, MAX_WEBHOOK_BYTES)
        except BodyTooLarge:
            return too_large(MAX_WEBHOOK_BYTES)
        header = request.headers.get("x-hub-signature-256")
        failure = verify_hub_signature(app_secret(), body, header)
        if failure is not None:
            # Missing credentials are 401; credentials that do not match are 403.
            status = 401 if header is None or app_secret() is None else 403
            return problem(status, "bad_signature", failure)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return problem(415, "unsupported_media_type", "send application/json")
        try:
            payload = json.loads(body)
        except ValueError:
            return problem(400, "malformed_payload", "the body is not valid JSON")
        try:
            items = normalize(payload)
        except InvalidField as exc:
            return problem(400, "malformed_payload", f"{exc.field}: {exc.reason}")
        except (ValueError, TypeError):
            return problem(400, "malformed_payload", "the payload does not match the format")
        try:
            answer = await file_inbound(ctx, items, fetch)
        except httpx.HTTPError as exc:
            # Nothing of this message was filed; Meta redelivers on a non-2xx answer.
            log.warning("provider media fetch failed", error=type(exc).__name__)
            return problem(502, "media_unavailable", "could not fetch the media; retry later")
        return JSONResponse(answer.model_dump(mode="json"))
