"""How well photos are made safe to publish (issue 20): recall and false positives per
class (faces, licence plates) and milliseconds per megapixel of `aduan_kit.blur`.

    uv run --frozen python -m bench.blur [--seed 20] [--plates 120]

The labelled set is made here, deterministically, from images that ship inside
registry packages under licences that allow it (no download):
- faces: scikit-image's `astronaut` (NASA, public domain) at several sizes on the other
  sample photos, `astronaut` itself, and the photographer in `camera` (CC0); two people
  only, so recall is for frontal or three-quarter, well-lit faces (docs/privacy.md says
  what that leaves out);
- plates: synthetic Indonesian plates ("B 1234 XYZ", expiry "08.29"), white on black (the
  private plate until 2022) and black on white (from 2022), drawn with OpenCV at widths from
  60 to 260 px, slightly rotated, on scikit-image's CC0/public-domain photos;
- backgrounds: those photos as they are (coffee, cat, rocket, bricks, grass, gravel, coins,
  horse, text page, motorcycle, the Hubble deep field); `camera` (CC0, a photographer in
  profile-ish three-quarter view) carries its one face as a label wherever it is used.

A labelled object counts as found when at least half of it lies inside a detected box of
its class; a detection is a false positive when less than half of it covers a labelled
object of its class. The figures go into docs/privacy.md (no timed assertion anywhere).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import skimage.data as samples

from aduan_kit.blur import Box, detect

__all__ = ["Labelled", "labelled_set", "main", "render_plate"]

# Eileen Collins' face in `astronaut()` (512x512), hand-labelled.
ASTRONAUT_FACE = (172, 60, 100, 105)
# The photographer's face in `camera()` (512x512), hand-labelled.
CAMERA_FACE = (178, 98, 88, 104)


@dataclass(frozen=True)
class Labelled:
    name: str
    rgb: np.ndarray
    faces: tuple[tuple[int, int, int, int], ...] = ()
    plates: tuple[tuple[int, int, int, int], ...] = ()


def render_plate(text: str, expiry: str, *, dark: bool, width: int = 520) -> np.ndarray:
    """An Indonesian plate: characters on a bordered plate about 3.1 times as wide as high,
    the expiry month/year in a small second line."""
    height = int(width / 3.1)
    fg, bg = ((245, 245, 245), (18, 18, 18)) if dark else ((15, 15, 15), (238, 238, 238))
    plate = np.full((height, width, 3), bg, np.uint8)
    cv2.rectangle(plate, (6, 6), (width - 7, height - 7), fg, 4)
    font = cv2.FONT_HERSHEY_DUPLEX
    (tw, _), _ = cv2.getTextSize(text, font, 1, 2)
    scale = width * 0.86 / tw
    cv2.putText(
        plate,
        text,
        (int((width - tw * scale) / 2), int(height * 0.62)),
        font,
        scale,
        fg,
        max(2, int(scale * 2.2)),
        cv2.LINE_AA,
    )
    (ew, eh), _ = cv2.getTextSize(expiry, font, 1, 2)
    small = height * 0.2 / eh
    cv2.putText(
        plate,
        expiry,
        (int((width - ew * small) / 2), int(height * 0.9)),
        font,
        small,
        fg,
        max(1, int(small * 2)),
        cv2.LINE_AA,
    )
    return plate


def _sample(name: str) -> Any:
    """One of scikit-image's sample photos (its functions are untyped)."""
    load: Callable[[], Any] = getattr(samples, name)
    return load()


def _backgrounds() -> dict[str, np.ndarray]:
    grey = ("camera", "coins", "text", "page", "brick", "grass", "gravel", "horse")
    out: dict[str, np.ndarray] = {}
    for name in (
        "coffee",
        "chelsea",
        "rocket",
        "hubble_deep_field",
        *grey,
    ):
        img = _sample(name)
        if img.ndim == 2:
            img = cv2.cvtColor(np.ascontiguousarray(img.astype(np.uint8)), cv2.COLOR_GRAY2RGB)
        out[name] = np.ascontiguousarray(img[..., :3].astype(np.uint8))
    out["motorcycle"] = np.ascontiguousarray(_sample("stereo_motorcycle")[0])
    return out


def _paste(
    dest: np.ndarray, patch: np.ndarray, rng: random.Random, angle: float
) -> tuple[int, int, int, int]:
    h, w = patch.shape[:2]
    if angle:
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        patch = cv2.warpAffine(patch, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    x = rng.randint(0, dest.shape[1] - w)
    y = rng.randint(0, dest.shape[0] - h)
    dest[y : y + h, x : x + w] = patch
    return (x, y, w, h)


def labelled_set(seed: int = 20, plates: int = 120) -> list[Labelled]:
    rng = random.Random(seed)
    backgrounds = _backgrounds()
    names = [n for n in backgrounds if n != "page"]
    astronaut = np.ascontiguousarray(_sample("astronaut"))
    fx, fy, fw, fh = ASTRONAUT_FACE
    items = [Labelled("astronaut", astronaut, faces=(ASTRONAUT_FACE,))]
    # The head and shoulders, pasted at several sizes (a bystander near and far).
    crop = astronaut[0:300, 100:350]
    for i, width in enumerate((60, 90, 130, 180, 240)):
        bg = backgrounds[names[i % len(names)]].copy()
        scale = width / crop.shape[1]
        if crop.shape[0] * scale >= bg.shape[0] - 2:
            continue
        small = cv2.resize(
            crop, (width, round(crop.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
        x, y, _, _ = _paste(bg, small, rng, 0.0)
        face = (
            x + round((fx - 100) * scale),
            y + round(fy * scale),
            round(fw * scale),
            round(fh * scale),
        )
        bg_name = names[i % len(names)]
        items.append(
            Labelled(
                f"face-{width}px-on-{bg_name}",
                bg,
                faces=(face, *_background_faces(bg_name, (x, y, small.shape[1], small.shape[0]))),
            )
        )
    letters = "ABDEFGHKLNPRSTUWZ"
    regions = ("B", "D", "L", "AB", "BK", "DK", "F", "H", "N", "KT")
    for i in range(plates):
        name = names[i % len(names)]
        bg = backgrounds[name].copy()
        text = (
            f"{rng.choice(regions)} {rng.randint(1, 9999)} "
            f"{''.join(rng.choice(letters) for _ in range(rng.randint(1, 3)))}"
        )
        dark = i % 2 == 0
        width = rng.randint(60, min(260, bg.shape[1] - 20))
        plate = render_plate(text, f"{rng.randint(1, 12):02d}.{rng.randint(25, 31)}", dark=dark)
        plate = cv2.resize(plate, (width, round(width / 3.1)), interpolation=cv2.INTER_AREA)
        box = _paste(bg, plate, rng, rng.uniform(-6, 6))
        items.append(
            Labelled(
                f"plate-{'dark' if dark else 'light'}-{width}px-on-{name}",
                bg,
                faces=_background_faces(name, box),
                plates=(box,),
            )
        )
    for name, bg in backgrounds.items():
        items.append(Labelled(f"background-{name}", bg, faces=_background_faces(name)))
    return items


def _background_faces(
    name: str, pasted: tuple[int, int, int, int] | None = None
) -> tuple[tuple[int, int, int, int], ...]:
    """The faces a background photo itself shows, unless what was pasted hides them."""
    if name != "camera":
        return ()
    if pasted is not None and _covered(CAMERA_FACE, Box("plate", *pasted)) >= 0.5:
        return ()
    return (CAMERA_FACE,)


def _covered(target: tuple[int, int, int, int], box: Box) -> float:
    x, y, w, h = target
    ix = max(0, min(x + w, box.x + box.w) - max(x, box.x))
    iy = max(0, min(y + h, box.y + box.h) - max(y, box.y))
    return ix * iy / max(1, w * h)


def _overlap_of_box(box: Box, target: tuple[int, int, int, int]) -> float:
    x, y, w, h = target
    ix = max(0, min(x + w, box.x + box.w) - max(x, box.x))
    iy = max(0, min(y + h, box.y + box.h) - max(y, box.y))
    return ix * iy / max(1, box.w * box.h)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--plates", type=int, default=120)
    args = parser.parse_args(argv)
    items = labelled_set(args.seed, args.plates)
    stats = {k: {"objects": 0, "found": 0, "false_pos": 0} for k in ("face", "plate")}
    ms_per_mp: list[float] = []
    detect(items[0].rgb)  # load the cascades outside the timing
    for item in items:
        t0 = time.perf_counter()
        boxes = detect(item.rgb)
        elapsed = (time.perf_counter() - t0) * 1000
        ms_per_mp.append(elapsed / (item.rgb.shape[0] * item.rgb.shape[1] / 1e6))
        for kind, labels in (("face", item.faces), ("plate", item.plates)):
            mine = [b for b in boxes if b.kind == kind]
            stats[kind]["objects"] += len(labels)
            stats[kind]["found"] += sum(
                1 for t in labels if any(_covered(t, b) >= 0.5 for b in mine)
            )
            stats[kind]["false_pos"] += sum(
                1 for b in mine if not any(_overlap_of_box(b, t) >= 0.5 for t in labels)
            )
    images = len(items)
    print(f"labelled set: {images} images (seed {args.seed})")
    for kind, s in stats.items():
        recall = s["found"] / s["objects"] if s["objects"] else float("nan")
        print(
            f"{kind:6s} objects {s['objects']:4d}  found {s['found']:4d}  "
            f"recall {recall:6.1%}  false positives {s['false_pos']:4d} "
            f"({s['false_pos'] / images:.2f} per image)"
        )
    # Per-megapixel figures from sample images of ~0.2-0.9 MP; a phone photo is detected on
    # a copy of at most 1024 px (~0.75 MP), so its time is about that of one such image.
    print(
        f"detection: median {statistics.median(ms_per_mp):.0f} ms/MP, "
        f"p90 {sorted(ms_per_mp)[int(0.9 * len(ms_per_mp))]:.0f} ms/MP "
        f"(sample images 0.05-0.9 MP, one thread)"
    )
    big = cv2.resize(items[0].rgb, (4000, 3000))
    t0 = time.perf_counter()
    detect(big)
    print(f"a 12 MP photo: {(time.perf_counter() - t0) * 1000:.0f} ms to detect (downscaled first)")


if __name__ == "__main__":
    main()
