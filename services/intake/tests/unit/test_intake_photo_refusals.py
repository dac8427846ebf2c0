"""Bad photos are refused at intake with a clear reason and never stored (issue 20): what
is not stored never gets a `PhotoRef`, so no event carries it and the photo worker's
detector never sees it. Corrupt, too big, animated, decompression bombs, unsupported."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from aduan_intake.adapters.photos import PhotoError, PhotoStore
from aduan_kit.blobs import FilesystemBlobStore

MAX_BYTES = 200_000


def frames(fmt: str, count: int = 3) -> bytes:
    out = io.BytesIO()
    images = [Image.new("RGB", (40, 30), (60 * i, 80, 120)) for i in range(count)]
    images[0].save(out, format=fmt, save_all=True, append_images=images[1:], duration=100)
    return out.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A PNG header declaring 400 million pixels over a few hundred bytes of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def stored_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def still(fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "content_type", "status", "says"),
    [
        ("corrupt", b"\xff\xd8\xff\xe0" + b"\x00" * 300, "image/jpeg", 422, "not a readable"),
        ("text", b"hello, not a photo", None, 422, "not a readable"),
        ("huge", b"\xff\xd8" + b"\x00" * (MAX_BYTES + 1), "image/jpeg", 413, "at most"),
        ("bomb", png_bomb(), "image/png", 422, "not a readable"),
        ("animated-webp", frames("WEBP"), "image/webp", 415, "animated"),
        ("animated-png", frames("PNG"), "image/png", 415, "animated"),
        ("gif", frames("GIF"), "image/gif", 415, "unsupported"),
        ("gif-undeclared", frames("GIF"), None, 415, "unsupported"),
    ],
)
async def test_bad_photos_are_refused_and_never_stored(
    tmp_path: Path, name: str, data: bytes, content_type: str | None, status: int, says: str
) -> None:
    store = PhotoStore(FilesystemBlobStore(tmp_path), max_bytes=MAX_BYTES, max_count=5)
    with pytest.raises(PhotoError) as refused:
        await store.store(data, "web", content_type)
    assert refused.value.status == status, (name, refused.value.reason)
    assert says in refused.value.reason, (name, refused.value.reason)
    assert not stored_files(tmp_path), "nothing may be stored"


async def test_a_still_photo_is_stored(tmp_path: Path) -> None:
    store = PhotoStore(FilesystemBlobStore(tmp_path), max_bytes=MAX_BYTES, max_count=5)
    for fmt, content_type in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        ref = await store.store(still(fmt), "web", content_type)
        assert ref.content_type == content_type
        assert tmp_path / ref.sha256[:2] / ref.sha256 in stored_files(tmp_path)
