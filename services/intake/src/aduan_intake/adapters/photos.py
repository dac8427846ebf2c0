"""Photos from every channel: size and type checked, EXIF (GPS, device) stripped, stored
content-addressed; what goes on into the report is a `PhotoRef`, never bytes.

A photo is stored before its report is filed. If filing then fails, the blob stays behind
unreferenced: harmless (content-addressed, no personal data left in it after stripping) and
cheaper than a two-phase dance with the database.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter

from aduan_contracts.values import PhotoRef
from aduan_kit.blobs import BlobStore
from aduan_kit.photos import ALLOWED, PhotoRejected, clean_photo, photo_ref

__all__ = ["ACCEPTED_TYPES", "PhotoError", "PhotoStore"]

STORED = Counter("aduan_intake_photos_stored_total", "Photos cleaned and stored", ["channel"])
REFUSED = Counter("aduan_intake_photos_refused_total", "Photos refused", ["reason"])

ACCEPTED_TYPES = frozenset(ALLOWED.values())


class PhotoError(ValueError):
    """A photo that cannot be accepted; `status` is the HTTP status that says why (413 too
    big, 415 not a supported image type, 422 unreadable) and `reason` is safe to show."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class PhotoStore:
    def __init__(self, blobs: BlobStore, max_bytes: int, max_count: int) -> None:
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.max_count = max_count

    def check_declared(self, content_type: str | None) -> None:
        """Refuse early on the declared type (multipart part, provider's mime_type) so
        nothing unsupported is downloaded or decoded; the bytes are checked again anyway."""
        declared = (content_type or "").split(";")[0].strip().lower()
        if declared and declared != "application/octet-stream" and declared not in ACCEPTED_TYPES:
            REFUSED.labels("type").inc()
            raise PhotoError(415, "unsupported photo type; send JPEG, PNG or WebP")

    def check_count(self, count: int) -> None:
        if count > self.max_count:
            REFUSED.labels("count").inc()
            raise PhotoError(413, f"at most {self.max_count} photos per report")

    async def store(self, data: bytes, channel: str, content_type: str | None = None) -> PhotoRef:
        self.check_declared(content_type)
        if len(data) > self.max_bytes:
            REFUSED.labels("size").inc()
            raise PhotoError(413, f"a photo may be at most {self.max_bytes} bytes")
        try:
            # Decoding and re-encoding is CPU work: off the event loop.
            clean, info = await asyncio.to_thread(clean_photo, data, self.max_bytes)
        except PhotoRejected as exc:
            reason = str(exc)
            unsupported = reason.startswith("unsupported")
            REFUSED.labels("type" if unsupported else "unreadable").inc()
            raise PhotoError(415 if unsupported else 422, reason) from None
        sha = await self.blobs.put(clean)
        STORED.labels(channel).inc()
        return photo_ref(sha, clean, info)
