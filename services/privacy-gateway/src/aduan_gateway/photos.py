"""The photo worker (issue 20): every photo a report or a follow-up carries gets a blurred
copy (faces and plates, `aduan_kit.blur`) and phone-sized copies, stored next to the
original in the blob store with a small manifest. The gateway serves only those copies;
the original stays locked (a validator's audited "open photos" is the one way to it).

It consumes the events that carry photos: `ReportSubmitted` / `ReportAmended` on the
intake topic (citizens' photos) and `ReportStatusChanged` with a follow-up (TL photos), in
its own consumer group, with the gateway's inbox (consumer names `gateway.photos.*`), so a
redelivered event is a no-op, and a photo already prepared is never prepared twice (the
manifest is looked up first). A photo the detector cannot read gets a "failed" manifest
(served as "cannot be shown") and a dead letter on `<topic>.dlq` with the cause.

Runs in the gateway process (`photo_worker_in_process`, the default for a laptop and the
tests) or as its own process, `python -m aduan_gateway.photos` (its own /health and
/metrics on `photos_port`), which `deploy/scripts/services.sh` and the `gateway-photos`
Deployment run so that blurring never takes CPU from the API (docs/decisions.md).
`python -m aduan_gateway.photos backfill` prepares photos stored before the worker ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from prometheus_client import Counter, Histogram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import (
    ReportAmended,
    ReportIntakeEvent,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.serialization import encode
from aduan_contracts.topics import REPORT_INTAKE, STATUS_CHANGED
from aduan_contracts.values import PhotoRef
from aduan_gateway.adapters.tables import INBOX, OUTBOX, REPORTS, TIMELINE
from aduan_gateway.config import Settings
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.blobs import BlobNotFound, FilesystemBlobStore
from aduan_kit.blur import SIZES, PhotoUnreadable, blur_photo
from aduan_kit.db import make_engine
from aduan_kit.logging import get_logger
from aduan_kit.messaging import queue_raw
from aduan_kit.runtime import ServiceRuntime, serve

__all__ = [
    "PREPARING",
    "Derivatives",
    "Manifest",
    "Size",
    "backfill",
    "main",
    "prepare",
    "register_photo_worker",
]

log = get_logger(__name__)

PREPARED = Counter("aduan_gateway_photos_prepared_total", "Photos blurred and stored", ["result"])
FOUND = Counter("aduan_gateway_photos_regions_blurred_total", "Regions blurred", ["kind"])
SECONDS = Histogram(
    "aduan_gateway_photo_prepare_seconds",
    "Time to detect, blur and encode one photo",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)

Size = Literal["full", "large", "thumb"]
PREPARING = (
    "this photo is being prepared: faces and number plates are being blurred before it "
    "can be shown; try again in a few seconds"
)
DETECTOR = "opencv-haar/aduan_kit.blur"


@dataclass(frozen=True)
class Manifest:
    """What exists for one original: the blurred copies' hashes and types, or the cause
    the detector gave up."""

    status: Literal["ready", "failed"]
    copies: dict[str, tuple[str, str]]  # size -> (sha256, content type)
    faces: int = 0
    plates: int = 0
    cause: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "status": self.status,
                "copies": {
                    k: {"sha256": s, "content_type": t} for k, (s, t) in self.copies.items()
                },
                "faces": self.faces,
                "plates": self.plates,
                "cause": self.cause,
                "detector": DETECTOR,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        return cls(
            status=data["status"],
            copies={k: (v["sha256"], v["content_type"]) for k, v in data["copies"].items()},
            faces=int(data.get("faces", 0)),
            plates=int(data.get("plates", 0)),
            cause=data.get("cause"),
        )


class Derivatives:
    """Manifests at `<blob root>/derived/<aa>/<sha256>.json` (the copies themselves are
    ordinary content-addressed blobs). Written to a temporary name and renamed, like the
    blobs, so a reader never sees half a manifest."""

    def __init__(self, blobs: FilesystemBlobStore) -> None:
        self.blobs = blobs
        self.root = Path(blobs.root) / "derived"

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / sha256[:2] / f"{sha256}.json"

    def _read(self, sha256: str) -> Manifest | None:
        try:
            return Manifest.from_json(self._path(sha256).read_bytes())
        except FileNotFoundError:
            return None

    def _write(self, sha256: str, manifest: Manifest) -> None:
        path = self._path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{sha256}.{os.getpid()}.tmp")
        tmp.write_bytes(manifest.to_json())
        tmp.replace(path)

    async def get(self, sha256: str) -> Manifest | None:
        return await asyncio.to_thread(self._read, sha256)

    async def put(self, sha256: str, manifest: Manifest) -> None:
        await asyncio.to_thread(self._write, sha256, manifest)

    async def read(self, sha256: str, size: Size) -> tuple[bytes, str] | None:
        """The blurred copy's bytes and type; None while it is being prepared. Raises
        `BlobNotFound` when the photo could not be prepared."""
        manifest = await self.get(sha256)
        if manifest is None:
            return None
        if manifest.status != "ready":
            raise BlobNotFound(sha256)
        copy_sha, content_type = manifest.copies[size]
        return await self.blobs.get(copy_sha), content_type


async def prepare(derivatives: Derivatives, photo: PhotoRef) -> Manifest:
    """Blur one stored photo and store its copies (idempotent: a ready manifest is kept).
    Raises `PhotoUnreadable` after recording a failed manifest."""
    existing = await derivatives.get(photo.sha256)
    if existing is not None:
        return existing
    original = await derivatives.blobs.get(photo.sha256)
    if hashlib.sha256(original).hexdigest() != photo.sha256:
        raise PhotoUnreadable("the stored original does not match its hash")
    started = time.perf_counter()
    try:
        blurred = await asyncio.to_thread(blur_photo, original)
    except PhotoUnreadable as exc:
        await derivatives.put(photo.sha256, Manifest("failed", {}, cause=str(exc)))
        PREPARED.labels("failed").inc()
        raise
    copies = {"full": (await derivatives.blobs.put(blurred.full), "image/jpeg")}
    for name in SIZES:
        copies[name] = (await derivatives.blobs.put(blurred.sizes[name]), "image/webp")
    manifest = Manifest("ready", copies, faces=blurred.faces, plates=blurred.plates)
    # The manifest last: until it exists the photo is "being prepared".
    await derivatives.put(photo.sha256, manifest)
    SECONDS.observe(time.perf_counter() - started)
    PREPARED.labels("ready").inc()
    FOUND.labels("face").inc(blurred.faces)
    FOUND.labels("plate").inc(blurred.plates)
    return manifest


def _photos(event: Any) -> tuple[PhotoRef, ...]:
    if isinstance(event, ReportSubmitted | ReportAmended):
        return tuple(event.photos)
    if isinstance(event, ReportStatusChanged) and event.follow_up is not None:
        return tuple(event.follow_up.photos)
    return ()


def register_photo_worker(runtime: ServiceRuntime, blobs: FilesystemBlobStore) -> Derivatives:
    """Subscribe the worker to both topics (its own consumer group)."""
    derivatives = Derivatives(blobs)
    group = f"{runtime.settings.consumer_group}.photos"

    def apply_for(topic: str) -> Any:
        async def apply(session: AsyncSession, event: Any) -> None:
            failed: list[str] = []
            for photo in _photos(event):
                try:
                    manifest = await prepare(derivatives, photo)
                except PhotoUnreadable as exc:
                    failed.append(f"photo {photo.sha256[:12]}: {exc}")
                    continue
                log.info(
                    "photo prepared",
                    report_id=str(event.report_id),
                    faces=manifest.faces,
                    plates=manifest.plates,
                )
            if failed:
                # The other photos of the event are prepared; this one is dead-lettered
                # with the cause, once (through the outbox, with the inbox claim).
                await queue_raw(
                    session,
                    OUTBOX,
                    f"{topic}.dlq",
                    str(event.report_id).encode(),
                    encode(event),
                    {
                        "dlq_error": ("PhotoUnreadable: " + "; ".join(failed))[:2000],
                        "dlq_source_topic": topic,
                        "dlq_consumer": "gateway.photos",
                        "dlq_at": str(time.time()),
                    },
                )
                log.error("photo could not be prepared", report_id=str(event.report_id))

        return apply

    intake_topic = runtime.topic(REPORT_INTAKE.name)
    status_topic = runtime.topic(STATUS_CHANGED.name)
    # One consumer for both topics (issue 18); the inbox consumer names are the ones the
    # two per-topic subscribers used. No order between the topics matters: derivatives are
    # stored by the photo's hash.
    subscribe_units(
        runtime,
        [
            Route(
                intake_topic,
                ReportIntakeEvent,
                "gateway.photos.on_intake",
                apply=apply_for(intake_topic),
                wanted=lambda e: bool(_photos(e)),
            ),
            Route(
                status_topic,
                ReportStatusChanged,
                "gateway.photos.on_status_changed",
                apply=apply_for(status_topic),
                wanted=lambda e: bool(_photos(e)),
            ),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        group_id=group,
        # A photo takes up to a few seconds: small batches keep a transaction short.
        max_records=4,
        title="gateway.photos",
        description="Citizens' photos (with a report) and follow-up (TL) photos (with a "
        "status change): blurred copies (faces, plates) and thumbnails.",
    )
    return derivatives


def build(settings: Settings | None = None) -> tuple[Any, ServiceRuntime]:
    """The worker as its own process: the gateway's settings, its own port and name."""
    base = settings or Settings()
    settings = base.model_copy(
        update={"port": base.photos_port, "service_name": f"{base.service_name}-photos"}
    )
    runtime = ServiceRuntime(settings, migrations="aduan_gateway:migrations", outbox=OUTBOX)
    register_photo_worker(runtime, FilesystemBlobStore(settings.blob_root))
    app = runtime.create_app(
        title="Aduan photo worker",
        version="0.1.0",
        description="Blurs faces and plates in report photos (health and metrics only).",
    )
    return app, runtime


async def backfill(settings: Settings) -> dict[str, int]:
    """Prepare every photo the read model knows that has no manifest yet: photos stored
    before the worker existed, or whose events left Kafka's retention before it first ran.
    `python -m aduan_gateway.photos backfill`; safe to repeat and to run beside the worker."""
    derivatives = Derivatives(FilesystemBlobStore(settings.blob_root))
    engine = make_engine(settings.database_url, 2)
    counts = {"ready": 0, "failed": 0, "missing": 0, "already": 0}
    try:
        async with engine.connect() as conn:
            photos = [
                p
                for rows in (
                    await conn.execute(select(REPORTS.c.photos)),
                    await conn.execute(
                        select(TIMELINE.c.follow_up["photos"]).where(
                            TIMELINE.c.follow_up.is_not(None)
                        )
                    ),
                )
                for (value,) in rows
                for p in value or ()
            ]
    finally:
        await engine.dispose()
    for raw in photos:
        photo = PhotoRef.model_validate(raw)
        if await derivatives.get(photo.sha256) is not None:
            counts["already"] += 1
            continue
        try:
            await prepare(derivatives, photo)
            counts["ready"] += 1
        except PhotoUnreadable:
            counts["failed"] += 1
        except BlobNotFound:
            counts["missing"] += 1
    return counts


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["backfill"]:
        print(json.dumps(asyncio.run(backfill(Settings()))))
        return
    if args:
        raise SystemExit("usage: python -m aduan_gateway.photos [backfill]")
    app, runtime = build()
    serve(app, runtime.settings)


if __name__ == "__main__":
    main()
