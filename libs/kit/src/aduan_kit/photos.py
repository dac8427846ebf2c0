"""Photo intake: check type and size, read when and where it was taken, strip all metadata.

The capture time and GPS point are read from EXIF *before* stripping, kept in the
`PhotoRef` (the evidence check compares a follow-up's after-photo with the report), and
then every metadata block (EXIF, XMP, ICC comments, device make/model) is removed by
re-encoding the pixels only. Uses Pillow; never hand-parses image formats.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from aduan_contracts.values import GeoPoint, PhotoRef

__all__ = ["PhotoRejected", "clean_photo", "photo_ref"]

ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding

_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132


class PhotoRejected(ValueError):
    """The upload is not an acceptable photo; the message says why (for a 4xx answer)."""


def _ratio(value: Any) -> float:
    try:
        return float(value)
    except TypeError:
        num, den = value
        return float(num) / float(den)


def _gps(exif: Image.Exif) -> GeoPoint | None:
    gps = exif.get_ifd(_GPS_IFD)
    try:
        lat_ref, lat, lon_ref, lon = gps[1], gps[2], gps[3], gps[4]
    except KeyError:
        return None
    try:
        lat_v = sum(_ratio(x) / d for x, d in zip(lat, (1, 60, 3600), strict=True))
        lon_v = sum(_ratio(x) / d for x, d in zip(lon, (1, 60, 3600), strict=True))
        if str(lat_ref).upper().startswith("S"):
            lat_v = -lat_v
        if str(lon_ref).upper().startswith("W"):
            lon_v = -lon_v
        return GeoPoint(lat=lat_v, lon=lon_v)
    except (ValueError, ZeroDivisionError, TypeError):
        return None


def _taken_at(exif: Image.Exif) -> datetime | None:
    raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not raw:
        return None
    try:
        # EXIF has no zone; cameras in the field are on local time, Jakarta is UTC+7.
        local = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    from datetime import timedelta, timezone

    return local.replace(tzinfo=timezone(timedelta(hours=7))).astimezone(UTC)


def clean_photo(data: bytes, max_bytes: int = MAX_BYTES) -> tuple[bytes, dict[str, Any]]:
    """Validate and strip. Returns the clean bytes and what was learned: content type,
    capture time and point (both None when the photo had no such metadata)."""
    if not data:
        raise PhotoRejected("empty file")
    if len(data) > max_bytes:
        raise PhotoRejected(f"photo is {len(data)} bytes; the limit is {max_bytes}")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if fmt not in ALLOWED:
                raise PhotoRejected(
                    f"unsupported image type {fmt or 'unknown'}; use JPEG, PNG or WebP"
                )
            # An animation is not a photo of a problem, and only its first frame would be
            # checked for faces and plates (issue 20): refused, not flattened.
            if getattr(img, "is_animated", False) or getattr(img, "n_frames", 1) > 1:
                raise PhotoRejected("unsupported animated image; send a single still photo")
            exif = img.getexif()
            taken_at, point = _taken_at(exif), _gps(exif)
            img.load()
            # Apply the orientation tag to the pixels, since the tag itself is dropped.
            upright = ImageOps.exif_transpose(img)
            # Pixels only: a new image has no info dict, so no EXIF/XMP/ICC/comments.
            clean = Image.frombytes(upright.mode, upright.size, upright.tobytes())
            if upright.mode == "P":
                clean.putpalette(upright.getpalette() or [])
            out = io.BytesIO()
            save_kwargs: dict[str, Any] = {"format": fmt}
            if fmt == "JPEG":
                if clean.mode not in ("RGB", "L"):
                    clean = clean.convert("RGB")
                save_kwargs |= {"quality": 88, "optimize": True}
            clean.save(out, **save_kwargs)
    except PhotoRejected:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise PhotoRejected(f"not a readable image ({type(exc).__name__})") from None
    return out.getvalue(), {"content_type": ALLOWED[fmt], "taken_at": taken_at, "point": point}


def photo_ref(sha256: str, clean: bytes, info: dict[str, Any]) -> PhotoRef:
    return PhotoRef(
        sha256=sha256,
        content_type=info["content_type"],
        size_bytes=len(clean),
        taken_at=info["taken_at"],
        point=info["point"],
    )
