"""The normalized report: what every channel adapter produces, whatever its payload."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.values import Actor, Location, PhotoRef, SealedContent, SealedIdentity
from aduan_intake.domain.area import place
from aduan_intake.domain.errors import InvalidField
from aduan_kit.redaction import identity_terms, prepare_terms, scrub_officer_text

__all__ = ["NormalizedReport", "ReporterIdentity"]

# Control characters other than tab and newline have no place in a complaint, and NUL
# breaks PostgreSQL text here (the dedupe key) and in every service downstream.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ReporterIdentity(BaseModel):
    """Who filed the report and how to answer them on their channel. Personal data: it only
    leaves intake sealed with the reporter's key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=254, description="E.164 or e-mail")
    handle: str | None = Field(default=None, max_length=256, description="channel user id")
    # Given at a counter (from the KTP) or by LAPOR!: kept only to hide them in text, sealed.
    nik: str | None = Field(default=None, pattern=r"^\d{16}$")
    address: str | None = Field(default=None, max_length=500, description="home address")
    # How to answer on the channel beyond the handle: the business number a WhatsApp
    # message reached, the page a Messenger message reached, the tweet to reply under, the
    # e-mail's Message-ID to thread a reply on. Sealed with the rest: it identifies people.
    reply: dict[str, str] | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.contact or self.handle or self.nik or self.address)

    def reuse_key(self, channel: Channel) -> str | None:
        """What makes two reports "the same reporter" (so they share one key): the
        normalized contact, else the handle on that channel. A bare name is no identity:
        two different Budis must never share a key, or erasing one would erase the other."""
        if self.contact:
            return f"contact:{self.contact}"
        if self.handle:
            return f"handle:{channel.value}:{self.handle}"
        return None

    def as_dict(self) -> dict[str, Any]:
        """The plaintext that gets sealed (the notifier and gateway read these keys)."""
        out: dict[str, Any] = {"name": self.name, "contact": self.contact, "handle": self.handle}
        if self.nik:
            out["nik"] = self.nik
        if self.address:
            out["address"] = self.address
        if self.reply:
            out["reply"] = dict(self.reply)
        return out


class NormalizedReport(BaseModel):
    """One complaint as intake files it. `channel_message_id` is the channel's own id for
    the message (or the form's submission id): the key that files it exactly once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    channel_message_id: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=10000)
    title: str | None = Field(default=None, max_length=300)
    category_hint: str | None = Field(default=None, max_length=100)
    location: Location | None = None
    photos: tuple[PhotoRef, ...] = ()
    reporter: ReporterIdentity | None = None
    # Private unless the reporter explicitly chose public (SPEC privacy rule 1).
    privacy: Privacy = Privacy.PRIVATE
    language: Literal["id", "en"] = "id"
    received_at: datetime
    # The officer who typed it in (call centre, walk-in counter, scanned letter).
    entered_by: Actor | None = None
    # "Me too": the public report the citizen says is the same problem.
    follows: UUID | None = None

    @field_validator("channel_message_id", "text", "title", "category_hint", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _CONTROL.sub("", value).strip()
        return value

    @field_validator("location", mode="before")
    @classmethod
    def _clean_location(cls, value: Any) -> Any:
        if isinstance(value, Location):
            address = _CONTROL.sub("", value.address).strip() if value.address else None
            area = _CONTROL.sub("", value.area).strip() if value.area else None
            if value.point is None and not address and not area and not value.area_code:
                return None
            # Only a chosen code goes on; how and how sure are intake's to say (`place`).
            return Location(
                point=value.point,
                address=address or None,
                area=area or None,
                area_code=value.area_code,
            )
        return value

    @classmethod
    def build(cls, **fields: Any) -> NormalizedReport:
        """Construct, turning a validation failure into `InvalidField` (which adapters
        answer with a 4xx naming the field) instead of an unexpected error."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "report"
            raise InvalidField(field, str(first["msg"])[:200]) from None

    def to_event(
        self,
        report_id: UUID,
        receipt_code: str,
        sealed: SealedIdentity | None,
        correlation_id: str | None = None,
        sealed_original: SealedContent | None = None,
    ) -> ReportSubmitted:
        """The event: title and text scrubbed of the reporter's own values and of phone
        numbers, e-mails and NIKs (what every officer role may read); the text as typed only
        in `sealed_original` (see `ReportSubmitted`)."""
        extra: dict[str, Any] = {"correlation_id": correlation_id} if correlation_id else {}
        # Made ready once for the title and the text (each value parsed once).
        terms = prepare_terms(
            identity_terms(self.reporter.as_dict()) if self.reporter is not None else ()
        )
        return ReportSubmitted(
            report_id=report_id,
            receipt_code=receipt_code,
            channel=self.channel,
            channel_message_id=self.channel_message_id,
            text=scrub_officer_text(self.text, terms),
            title=scrub_officer_text(self.title, terms) if self.title else None,
            category_hint=self.category_hint,
            location=place(self.location, self.title, self.text),
            photos=self.photos,
            privacy=self.privacy,
            language=self.language,
            received_at=self.received_at,
            reporter=sealed,
            entered_by=self.entered_by,
            sealed_original=sealed_original,
            follows=self.follows,
            **extra,
        )
