"""Faces and licence plates blurred out of a photo, plus the smaller copies a phone on 3G
can afford (issue 20; the figures in docs/privacy.md, the choice in docs/decisions.md).

Input is a photo intake (or the gateway's follow-up upload) already accepted and stripped
(`aduan_kit.photos.clean_photo`): type, size, pixel count and decodability were checked
there, so nothing that reaches this module is a decompression bomb or an animation.

Detectors are OpenCV's Haar cascades that ship inside the `opencv-python-headless` wheel
(`cv2.data.haarcascades`): nothing is downloaded at run time. Faces: the frontal (alt2) and
profile cascades, the profile one on the mirrored image too. Plates: the Russian-plate
cascade on the grey image and on its negative (Indonesian private plates are white on
black, the 2022 ones black on white), plus a classic character-row search (four or more
character-sized blobs side by side) because the cascade alone finds too few plates
it was not trained on. Blurring more than needed costs a patch of blur; missing a plate
costs someone's privacy, so the plate search leans towards recall.

Detection runs on a copy at most `DETECT_SIDE` pixels on its long side (time grows with
pixels; a face smaller than ~20 px there is not recognisable in the published copy either),
and the boxes are scaled back. CPU-bound and synchronous: callers run it in a thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import cv2
import numpy as np
from PIL import Image

__all__ = [
    "DETECT_SIDE",
    "SIZES",
    "Blurred",
    "Box",
    "PhotoUnreadable",
    "blur_boxes",
    "blur_photo",
    "detect",
]

DETECT_SIDE = 1024
# The published sizes: the full blurred photo (JPEG, for evidence), a screen-sized copy and a
# thumbnail (WebP: about a third smaller than JPEG at the same look, read by every current
# phone browser). 480 px is a queue or list thumbnail, 1280 px a phone's full-screen view.
SIZES = {"large": 1280, "thumb": 480}
_MAX_FULL_SIDE = 4096


class PhotoUnreadable(ValueError):
    """The detector cannot read this image; the message is the cause (for a dead letter)."""


@dataclass(frozen=True)
class Box:
    kind: str  # "face" or "plate"
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Blurred:
    """The blurred photo (JPEG) and its smaller copies (WebP), with what was found."""

    full: bytes
    sizes: dict[str, bytes]
    boxes: tuple[Box, ...] = field(default=())

    @property
    def faces(self) -> int:
        return sum(1 for b in self.boxes if b.kind == "face")

    @property
    def plates(self) -> int:
        return sum(1 for b in self.boxes if b.kind == "plate")


@cache
def _cascade(name: str) -> Any:
    classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)  # type: ignore[attr-defined]
    if classifier.empty():  # a wheel without its data folder (OpenCV 5 has none)
        raise RuntimeError(f"OpenCV cascade {name} is missing; opencv-python-headless<5 ships it")
    return classifier


def _faces(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    found: list[tuple[int, int, int, int]] = []
    for x, y, w, h in _cascade("haarcascade_frontalface_alt2.xml").detectMultiScale(
        grey, scaleFactor=1.1, minNeighbors=4, minSize=(20, 20)
    ):
        found.append((int(x), int(y), int(w), int(h)))
    profile = _cascade("haarcascade_profileface.xml")
    width = grey.shape[1]
    for mirrored in (False, True):
        img = cv2.flip(grey, 1) if mirrored else grey
        for x, y, w, h in profile.detectMultiScale(
            img, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24)
        ):
            x = width - x - w if mirrored else x
            found.append((int(x), int(y), int(w), int(h)))
    return found


def _plate_cascade(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    found: list[tuple[int, int, int, int]] = []
    cascade = _cascade("haarcascade_russian_plate_number.xml")
    for img in (grey, cv2.bitwise_not(grey)):
        for x, y, w, h in cascade.detectMultiScale(
            img, scaleFactor=1.1, minNeighbors=3, minSize=(30, 10)
        ):
            found.append((int(x), int(y), int(w), int(h)))
    return found


def _plate_text_regions(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rows of at least four character-sized blobs of about one height on one line, light
    on dark or dark on light, grown to a plate's frame: the character-row search of classic
    plate readers. Finds any line of big print (a shop sign, a page) too: blurred as well."""
    found: list[tuple[int, int, int, int]] = []
    height = grey.shape[0]
    for img in (grey, cv2.bitwise_not(grey)):
        binary = cv2.adaptiveThreshold(
            img, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 25, -10
        )
        count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        blobs = sorted(
            (int(x), int(y), int(w), int(h))
            for x, y, w, h, area in stats[1:count]
            if 6 <= h <= 0.3 * height and 0.15 * h <= w <= h and 0.15 * w * h <= area <= 0.9 * w * h
        )
        used = [False] * len(blobs)
        for i, first in enumerate(blobs):
            if used[i]:
                continue
            row, last = [first], first
            for j in range(i + 1, len(blobs)):
                x, y, _, h = blobs[j]
                lx, ly, lw, lh = last
                if used[j] or x <= lx:
                    continue
                if x - (lx + lw) > 1.2 * lh:
                    if x > lx + lw + 3 * lh:
                        break  # sorted by x: nothing further on can join this row
                    continue
                if abs(h - lh) <= 0.3 * lh and abs((y + h / 2) - (ly + lh / 2)) <= 0.35 * lh:
                    row.append(blobs[j])
                    used[j] = True
                    last = blobs[j]
            if len(row) >= 4:
                x0, y0 = min(r[0] for r in row), min(r[1] for r in row)
                x1, y1 = max(r[0] + r[2] for r in row), max(r[1] + r[3] for r in row)
                h = y1 - y0
                # The plate around the characters: its frame and the expiry line below.
                found.append(
                    (x0 - int(0.3 * h), y0 - int(0.4 * h), x1 - x0 + int(0.6 * h), int(1.9 * h))
                )
    return found


def _merge(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Drop boxes that lie inside a bigger one (the same face found by two cascades)."""
    kept: list[tuple[int, int, int, int]] = []
    for box in sorted(boxes, key=lambda b: b[2] * b[3], reverse=True):
        x, y, w, h = box
        inside = any(
            x >= kx - 0.1 * kw
            and y >= ky - 0.1 * kh
            and x + w <= kx + 1.1 * kw
            and y + h <= ky + 1.1 * kh
            for kx, ky, kw, kh in kept
        )
        if not inside:
            kept.append(box)
    return kept


def detect(rgb: np.ndarray) -> list[Box]:
    """Faces and plates in an RGB image, in its own pixel coordinates."""
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = (
        cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        if scale < 1.0
        else rgb
    )
    grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    boxes: list[Box] = []
    for kind, found in (
        ("face", _merge(_faces(grey))),
        ("plate", _merge(_plate_cascade(grey) + _plate_text_regions(grey))),
    ):
        for x, y, w, h in found:
            # Clipped to the image (a plate's frame grown past the edge).
            x0, y0 = max(0, round(x / scale)), max(0, round(y / scale))
            x1, y1 = min(width, round((x + w) / scale)), min(height, round((y + h) / scale))
            if x1 > x0 and y1 > y0:
                boxes.append(Box(kind, x0, y0, x1 - x0, y1 - y0))
    return boxes


def blur_boxes(rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
    """A copy with every box (grown by a margin: hair, a plate's frame) blurred beyond
    recognition: pixelated to ~6 cells across, then smoothed, so no edge of a feature or a
    character survives."""
    out = rgb.copy()
    height, width = out.shape[:2]
    for box in boxes:
        mx, my = int(box.w * 0.15) + 2, int(box.h * 0.15) + 2
        x0, y0 = max(0, box.x - mx), max(0, box.y - my)
        x1, y1 = min(width, box.x + box.w + mx), min(height, box.y + box.h + my)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        region = out[y0:y1, x0:x1]
        cells = max(2, min(6, (x1 - x0) // 4))
        rows = max(2, round(cells * (y1 - y0) / (x1 - x0)))
        tiny = cv2.resize(region, (cells, rows), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(tiny, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        k = max(3, ((min(x1 - x0, y1 - y0) // 4) | 1))
        out[y0:y1, x0:x1] = cv2.GaussianBlur(coarse, (k, k), 0)
    return out


def _encode(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        img.save(buffer, format="JPEG", quality=85, optimize=True, progressive=True)
    else:
        img.save(buffer, format="WEBP", quality=75, method=4)
    return buffer.getvalue()


def _fit(img: Image.Image, side: int) -> Image.Image:
    if max(img.size) <= side:
        return img
    copy = img.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    return copy


def blur_photo(data: bytes) -> Blurred:
    """Decode a cleaned photo, blur its faces and plates, and encode the blurred copy (JPEG,
    at most 4096 px on its long side) and the `SIZES` copies (WebP). Raises
    `PhotoUnreadable` with the cause when the image cannot be read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            rgb_img = img.convert("RGB")
    except Exception as exc:  # Pillow raises many types for bad data; all mean "unreadable"
        raise PhotoUnreadable(f"cannot decode the image ({type(exc).__name__})") from None
    rgb = np.asarray(rgb_img)
    if rgb.ndim != 3 or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        raise PhotoUnreadable("image has no pixels to read")
    try:
        boxes = detect(rgb)
        blurred = blur_boxes(rgb, boxes)
    except cv2.error as exc:
        raise PhotoUnreadable(f"the detector failed: {str(exc).strip()[:200]}") from None
    full = Image.fromarray(blurred)
    # Downscaled only after blurring: the blur is done at full resolution, so no copy holds
    # a sharper face than the big one.
    sizes = {name: _encode(_fit(full, side), "WEBP") for name, side in SIZES.items()}
    return Blurred(
        full=_encode(_fit(full, _MAX_FULL_SIDE), "JPEG"), sizes=sizes, boxes=tuple(boxes)
    )
