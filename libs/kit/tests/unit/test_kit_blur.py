"""Faces and plates blurred (issue 20): the blurred region loses its detail (pixel
variance drops), an image with neither is unchanged but for the re-encoding, and every
copy is smaller than or as big as the full one. Sample photos ship inside scikit-image
(public domain / CC0); the plate is drawn here."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import pytest
import skimage.data as samples
from PIL import Image

from aduan_kit.blur import SIZES, Box, PhotoUnreadable, blur_boxes, blur_photo, detect


def sample(name: str) -> Any:
    load: Callable[[], Any] = getattr(samples, name)
    return np.ascontiguousarray(load())


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB")).astype(np.int16)


def plate_on(background: np.ndarray, text: str = "B 1234 XYZ") -> tuple[np.ndarray, Box]:
    """A white-on-black Indonesian plate, 240 x 77 px, drawn onto a copy of `background`."""
    w, h = 240, 77
    plate = np.full((h, w, 3), 18, np.uint8)
    cv2.rectangle(plate, (3, 3), (w - 4, h - 4), (245, 245, 245), 2)
    cv2.putText(plate, text, (10, 48), cv2.FONT_HERSHEY_DUPLEX, 1.15, (245, 245, 245), 2)
    cv2.putText(plate, "08.29", (95, 70), cv2.FONT_HERSHEY_DUPLEX, 0.5, (245, 245, 245), 1)
    out = background.copy()
    x, y = 300, 250
    out[y : y + h, x : x + w] = plate
    return out, Box("plate", x, y, w, h)


def detail(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def region(rgb: np.ndarray, box: Box) -> np.ndarray:
    return rgb[box.y : box.y + box.h, box.x : box.x + box.w]


def test_a_synthetic_plate_is_found_and_blurred() -> None:
    photo, plate = plate_on(sample("coffee"))
    found = [b for b in detect(photo) if b.kind == "plate"]
    assert any(
        b.x <= plate.x + plate.w / 2 <= b.x + b.w and b.y <= plate.y + plate.h / 2 <= b.y + b.h
        for b in found
    ), found
    blurred = blur_photo(png(photo))
    assert blurred.plates >= 1
    before = region(photo.astype(np.int16), plate)
    after = region(decode(blurred.full), plate)
    # The characters' edges are gone: the plate's pixel variance falls to a fraction.
    assert after.var() < 0.25 * before.var(), (after.var(), before.var())


def test_the_astronauts_face_is_found_and_blurred() -> None:
    photo = sample("astronaut")
    faces = [b for b in detect(photo) if b.kind == "face"]
    assert len(faces) == 1
    face = Box("face", 172, 60, 100, 105)  # hand-labelled (bench/blur.py)
    assert faces[0].x < face.x + face.w / 2 < faces[0].x + faces[0].w
    before = region(photo, face)
    after = region(decode(blur_photo(png(photo)).full).astype(np.uint8), face)
    # Pixel variance drops (hair and skin stay as coarse patches of colour) and the detail
    # that makes a face recognisable (edges: the Laplacian's variance) all but vanishes.
    assert after.astype(np.int16).var() < 0.6 * before.astype(np.int16).var()
    assert detail(after) < 0.1 * detail(before), (detail(after), detail(before))


def test_a_photo_without_faces_or_plates_is_only_re_encoded() -> None:
    photo = sample("coffee")  # a cup of coffee: no face, no plate
    blurred = blur_photo(png(photo))
    assert blurred.boxes == ()
    # Pixel for pixel what a plain JPEG encoding (quality 85) of the photo gives.
    plain = io.BytesIO()
    Image.fromarray(photo).save(plain, format="JPEG", quality=85)
    assert (decode(blurred.full) == decode(plain.getvalue())).all()


def test_blur_boxes_touches_only_the_boxes() -> None:
    photo = sample("rocket")
    box = Box("face", 100, 100, 80, 80)
    out = blur_boxes(photo, [box])
    assert (out[:80] == photo[:80]).all() and (out[:, 220:] == photo[:, 220:]).all()
    assert region(out, box).astype(np.int16).var() < region(photo, box).astype(np.int16).var()


def test_copies_are_sized_for_a_phone() -> None:
    big = cv2.resize(sample("coffee"), (3000, 2000))
    blurred = blur_photo(png(big))
    with Image.open(io.BytesIO(blurred.full)) as full:
        assert full.format == "JPEG" and full.size == (3000, 2000)
    for name, side in SIZES.items():
        with Image.open(io.BytesIO(blurred.sizes[name])) as img:
            assert img.format == "WEBP" and max(img.size) == side
    assert len(blurred.sizes["thumb"]) < len(blurred.sizes["large"]) < len(blurred.full)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\xff\xd8\xff\xe0" + b"\0" * 64])
def test_an_unreadable_image_says_why(data: bytes) -> None:
    with pytest.raises(PhotoUnreadable, match="cannot decode"):
        blur_photo(data)
