"""The envelope every integration message carries, and the base for events and commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Contract", "Envelope", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every value object in a contract: immutable, and unknown fields are refused.

    `extra="forbid"` makes a producer/consumer drift fail loudly at the boundary instead of
    silently dropping data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(Contract):
    """Metadata shared by every event and command.

    `event_id` is the idempotency key consumers store in their inbox; `correlation_id` ties
    together everything caused by one outside request (it is logged, never personal data);
    `causation_id` is the `event_id` of the message that caused this one.
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: int = 1
    correlation_id: str = Field(default_factory=lambda: uuid4().hex, max_length=128)
    causation_id: str | None = Field(default=None, max_length=128)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone")
        return value
