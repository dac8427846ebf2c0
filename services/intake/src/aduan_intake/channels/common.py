"""What every HTTP channel adapter shares: the filing context, the sender's address for
rate limiting, content negotiation and the error bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aduan_intake.config import Settings
from aduan_intake.domain import InvalidField
from aduan_intake.filing import Filed, Filer
from aduan_intake.ratelimit import FixedWindowLimiter

__all__ = [
    "ChannelContext",
    "FieldError",
    "FiledReceipt",
    "ProblemBody",
    "field_error",
    "prefers_json",
    "problem",
    "rate_limited",
    "sender_address",
]


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """Handed to every adapter by the composition root."""

    settings: Settings
    filer: Filer
    limiter: FixedWindowLimiter


class FiledReceipt(BaseModel):
    """What a sender gets back after filing (or re-sending) a report."""

    report_id: UUID
    receipt_code: str
    status: Literal["received"] = "received"
    duplicate: bool

    @classmethod
    def of(cls, filed: Filed) -> FiledReceipt:
        return cls(
            report_id=filed.report_id, receipt_code=filed.receipt_code, duplicate=filed.duplicate
        )


class FieldError(BaseModel):
    """A 422: which field, and why (never the field's value)."""

    error: Literal["invalid_field"] = "invalid_field"
    field: str
    reason: str


class ProblemBody(BaseModel):
    """Any other refusal (rate limit, unreadable body, id reused)."""

    error: str
    reason: str


def field_error(exc: InvalidField) -> JSONResponse:
    body = FieldError(field=exc.field, reason=exc.reason)
    return JSONResponse(body.model_dump(), status_code=422)


def problem(
    status: int, error: str, reason: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ProblemBody(error=error, reason=reason).model_dump(), status_code=status, headers=headers
    )


def rate_limited(retry_after_s: int, limit: int, window_s: int) -> JSONResponse:
    return problem(
        429,
        "rate_limited",
        f"more than {limit} submissions in {window_s} s from this address; "
        f"try again in {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


def sender_address(request: Request, trust_forwarded_for: bool) -> str:
    """The client address the rate limit counts against."""
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        # The left-most entry is the original client as our own proxy saw it.
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return request.client.host if request.client else "unknown"


def _quality(accept: str, media: str) -> float:
    """The q-value `accept` gives `media` (most specific matching range wins)."""
    main = media.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        rng = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if rng == media:
            specificity = 2
        elif rng == f"{main}/*":
            specificity = 1
        elif rng == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def prefers_json(accept: str | None) -> bool:
    """True when the client ranks JSON above HTML; a tie (`*/*`, no header) means a
    browser-like client, which gets the HTML page."""
    if not accept:
        return False
    return _quality(accept, "application/json") > _quality(accept, "text/html")
