"""Bytes on the wire: compact JSON, parsed back with the topic's payload type."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter

from aduan_contracts.topics import TopicSpec

__all__ = ["decode", "encode"]


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode()


@cache
def _adapter(payload: Any) -> TypeAdapter[Any]:
    return TypeAdapter(payload)


def decode(spec: TopicSpec, data: bytes | str) -> Any:
    """Parse a message of `spec`'s topic; raises `pydantic.ValidationError` with the cause."""
    return _adapter(spec.payload).validate_json(data)
