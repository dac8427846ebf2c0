"""The normalized report: what every channel adapter produces, whatever its payload."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.values import Location, PhotoRef, SealedIdentity

__all__ = ["NormalizedReport", "ReporterIdentity"]


class ReporterIdentity(BaseModel):
    """Who filed the report and how to answer them on their channel. Personal data: it only
    leaves intake sealed with the reporter's key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=254, description="E.164 or e-mail")
    handle: str | None = Field(default=None, max_length=256, description="channel user id")

    @property
    def is_empty(self) -> bool:
        return not (self.name or self.contact or self.handle)

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
        return {"name": self.name, "contact": self.contact, "handle": self.handle}


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

    def to_event(
        self,
        report_id: UUID,
        receipt_code: str,
        sealed: SealedIdentity | None,
        correlation_id: str | None = None,
    ) -> ReportSubmitted:
        extra: dict[str, Any] = {"correlation_id": correlation_id} if correlation_id else {}
        return ReportSubmitted(
            report_id=report_id,
            receipt_code=receipt_code,
            channel=self.channel,
            channel_message_id=self.channel_message_id,
            text=self.text,
            title=self.title,
            category_hint=self.category_hint,
            location=self.location,
            photos=self.photos,
            privacy=self.privacy,
            language=self.language,
            received_at=self.received_at,
            reporter=sealed,
            **extra,
        )
