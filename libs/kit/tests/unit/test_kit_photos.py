"""Photos: metadata read before it is stripped; bad uploads refused with a reason."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from aduan_kit.blobs import BlobNotFound, FilesystemBlobStore
from aduan_kit.photos import PhotoRejected, clean_photo, photo_ref


def jpeg_with_exif() -> bytes:
    img = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0132] = "2026:03:04 10:20:30"
    exif.get_ifd(0x8825).update({1: "S", 2: (6.0, 11.0, 10.0), 3: "E", 4: (106.0, 50.0, 2.0)})
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_exif_is_read_then_stripped() -> None:
    raw = jpeg_with_exif()
    assert b"PhoneMaker" in raw
    clean, info = clean_photo(raw)
    assert b"PhoneMaker" not in clean and b"Exif" not in clean
    with Image.open(io.BytesIO(clean)) as img:
        assert not img.getexif()
        assert img.size == (32, 24)
    assert info["content_type"] == "image/jpeg"
    assert info["point"].lat == pytest.approx(-6.186111, abs=1e-5)
    assert info["point"].lon == pytest.approx(106.833889, abs=1e-5)
    assert info["taken_at"].isoformat() == "2026-03-04T03:20:30+00:00"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"GIF89a not really", "not a readable image"), (b"x" * 20, "not a readable")],
)
def test_bad_uploads_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(PhotoRejected, match=reason):
        clean_photo(data)


def test_size_limit() -> None:
    with pytest.raises(PhotoRejected, match="limit"):
        clean_photo(jpeg_with_exif(), max_bytes=100)


async def test_blob_store_is_content_addressed(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    clean, info = clean_photo(jpeg_with_exif())
    sha = await store.put(clean)
    assert await store.put(clean) == sha
    assert await store.get(sha) == clean
    assert photo_ref(sha, clean, info).size_bytes == len(clean)
    with pytest.raises(BlobNotFound):
        await store.get("0" * 64)
