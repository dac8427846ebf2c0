"""The after-photo of a completed public report (issue 15's last gap, issue 20): shown on
the public report page and on the tracking page, always the copy with faces and number
plates blurred. The portal asks the gateway's public routes
(`GET /v1/public/reports/{id}/after-photos`, `.../photos/{sha256}`), which serve only
blurred copies of completed public reports' follow-up photos, and passes the images through
its own origin (`/reports/{public_id}/after-photos/{sha256}`), so the page's CSP stays
`img-src 'self'` and the browser never talks to the gateway.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

import httpx
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from aduan_kit.logging import get_logger
from aduan_portal.domain import Language, PublicReport

__all__ = ["AfterPhotoLink", "AfterPhotos", "after_photos_router", "after_texts"]

log = get_logger(__name__)

_SHA = re.compile(r"^[0-9a-f]{64}$")

_TEXTS: dict[str, dict[Language, str]] = {
    "heading": {"id": "Foto sesudah ditangani", "en": "Photo after the work"},
    "alt": {
        "id": "Foto tindak lanjut petugas (wajah dan pelat nomor disamarkan)",
        "en": "The officers' follow-up photo (faces and number plates blurred)",
    },
    "preparing": {
        "id": "Foto sedang disiapkan: wajah dan pelat nomor sedang disamarkan. "
        "Muat ulang halaman sebentar lagi.",
        "en": "The photo is being prepared: faces and number plates are being blurred. "
        "Reload the page in a moment.",
    },
    "failed": {
        "id": "Foto ini tidak dapat ditampilkan dengan aman.",
        "en": "This photo cannot be shown safely.",
    },
    "note": {
        "id": "Wajah dan pelat nomor kendaraan disamarkan otomatis.",
        "en": "Faces and vehicle number plates are blurred automatically.",
    },
}


def after_texts(lang: Language) -> dict[str, str]:
    return {key: by_lang[lang] for key, by_lang in _TEXTS.items()}


@dataclass(frozen=True)
class AfterPhotoLink:
    sha256: str
    ready: bool
    failed: bool
    thumb_url: str
    large_url: str


class AfterPhotos:
    """The gateway's public after-photo routes, with a short timeout: a slow gateway
    leaves the page without photos, never without the page."""

    def __init__(
        self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self._base, timeout=self._timeout, transport=self._transport
        )

    async def links(self, report: PublicReport | None) -> list[AfterPhotoLink]:
        if report is None or report.status.value != "completed":
            return []
        try:
            async with self._client() as client:
                got = await client.get(f"/v1/public/reports/{report.report_id}/after-photos")
            if got.status_code != 200:
                return []
            base = f"/reports/{report.public_id}/after-photos"
            return [
                AfterPhotoLink(
                    sha256=p["sha256"],
                    ready=bool(p["ready"]),
                    failed=bool(p.get("failed")),
                    thumb_url=f"{base}/{p['sha256']}?size=thumb",
                    large_url=f"{base}/{p['sha256']}?size=large",
                )
                for p in got.json()
                if isinstance(p, dict) and _SHA.match(str(p.get("sha256", "")))
            ]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("after-photos unavailable", error=type(exc).__name__)
            return []

    async def image(self, report_id: UUID, sha256: str, size: str) -> httpx.Response | None:
        try:
            async with self._client() as client:
                return await client.get(
                    f"/v1/public/reports/{report_id}/photos/{sha256}", params={"size": size}
                )
        except httpx.HTTPError as exc:
            log.warning("after-photo unavailable", error=type(exc).__name__)
            return None


def after_photos_router(
    photos: AfterPhotos, find: Callable[[str], Awaitable[PublicReport | None]]
) -> APIRouter:
    router = APIRouter()

    @router.get(
        "/reports/{public_id}/after-photos/{sha256}",
        response_class=Response,
        responses={
            200: {"content": {"image/webp": {}, "image/jpeg": {}}},
            202: {"description": "being prepared (faces and plates are being blurred)"},
            404: {"description": "no such public report or after-photo"},
        },
        tags=["pages"],
    )
    async def after_photo(
        public_id: Annotated[str, Path(max_length=64)],
        sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
        size: Annotated[Literal["thumb", "large"], Query()] = "large",
    ) -> Response:
        """An after-photo of a completed public report, faces and plates blurred."""
        report = await find(public_id)
        if report is None:
            return Response("not found", status_code=404, media_type="text/plain")
        got = await photos.image(report.report_id, sha256, size)
        if got is None:
            return Response(
                "the photo service is unavailable; try again later",
                status_code=503,
                media_type="text/plain",
                headers={"Retry-After": "30"},
            )
        if got.status_code == 200:
            return Response(
                got.content,
                media_type=got.headers.get("content-type", "image/webp"),
                headers={"Cache-Control": got.headers.get("cache-control", "no-store")},
            )
        if got.status_code == 202:
            return Response(
                "the photo is being prepared (faces and plates are being blurred)",
                status_code=202,
                media_type="text/plain",
                headers={"Retry-After": "3", "Cache-Control": "no-store"},
            )
        return Response("not found", status_code=404, media_type="text/plain")

    return router
