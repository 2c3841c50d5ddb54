"""Procedural captioned cats and cars: the toolkit's embedded default dataset.

Scenes are vector shapes drawn with Pillow at k times the requested size and box-downsampled, so
edges are anti-aliased at any size. Every categorical attribute changes the picture in a way a small
CNN can read at 64x64: a big head with big coloured eyes, thick stripes and spots, distinct car
silhouettes, and backgrounds that differ in layout rather than only in hue.
"""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from t2igan.data.backgrounds import BACKGROUNDS, RUG_COLORS
from t2igan.data.captions import make_captions
from t2igan.data.drawing import RGB, Canvas, Frame, jitter, scaled
from t2igan.errors import UserError

# Named colours sit far enough apart that +-COLOR_JITTER per channel keeps them separable
# (orange/brown/cream differ in lightness and blue; white/silver by ~60 per channel).
CAT_COLORS: dict[str, RGB] = {
    "black": (34, 34, 38), "white": (244, 243, 238), "orange": (232, 124, 32),
    "grey": (128, 128, 134), "brown": (112, 66, 32), "cream": (236, 208, 150),
}
CAR_COLORS: dict[str, RGB] = {
    "red": (206, 28, 32), "blue": (30, 72, 210), "black": (28, 28, 32), "white": (246, 246, 246),
    "yellow": (248, 208, 24), "green": (28, 150, 60), "silver": (176, 184, 196),
}
EYE_COLORS: dict[str, RGB] = {"green": (70, 215, 60), "blue": (40, 140, 255),
                              "yellow": (255, 225, 30)}
COLOR_JITTER = 12

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "subject": ("cat", "car"),
    "color": tuple(CAT_COLORS) + tuple(c for c in CAR_COLORS if c not in CAT_COLORS),
    "pattern": ("plain", "striped", "spotted"),
    "eyes": tuple(EYE_COLORS),
    "pose": ("sitting", "lying"),
    "car_type": ("sedan", "hatchback", "pickup truck", "sports car", "van"),
    "setting": ("rug", "grass", "sofa", "city street", "country road", "parking lot"),
    "rug_color": tuple(RUG_COLORS),
    "time": ("day", "night"),
    "facing": ("left", "right"),
}
# The subject-specific attributes and the values each subject may take.
SUBJECT_ATTRIBUTES: dict[str, dict[str, tuple[str, ...]]] = {
    "cat": {"color": tuple(CAT_COLORS), "pattern": ATTRIBUTES["pattern"],
            "eyes": ATTRIBUTES["eyes"], "pose": ATTRIBUTES["pose"],
            "setting": ("rug", "grass", "sofa")},
    "car": {"color": tuple(CAR_COLORS), "car_type": ATTRIBUTES["car_type"],
            "setting": ("city street", "country road", "parking lot")},
}
SPLIT_LENGTHS = {"train": 100_000, "test": 10_000}

# Ground line of each setting, as a fraction of the image height.
GROUND = {"rug": 0.87, "grass": 0.88, "sofa": 0.79, "city street": 0.87, "country road": 0.88,
          "parking lot": 0.9}

# Side-view car silhouettes facing right, in car lengths: x in [-0.5, 0.5], y up from the ground.
CAR_SHAPES: dict[str, dict] = {
    "sedan": {  # three boxes: hood, cabin, trunk
        "body": [(-0.5, 0.07), (-0.5, 0.21), (-0.46, 0.25), (-0.27, 0.26), (-0.16, 0.38),
                 (0.1, 0.38), (0.22, 0.26), (0.45, 0.23), (0.5, 0.18), (0.5, 0.07)],
        "windows": [[(-0.15, 0.27), (-0.09, 0.355), (-0.02, 0.355), (-0.02, 0.27)],
                    [(0.01, 0.27), (0.01, 0.355), (0.09, 0.355), (0.19, 0.27)]],
        "details": [], "wheels": (-0.31, 0.31), "r": 0.085, "light": (0.48, 0.19),
        "tail": (-0.49, 0.2)},
    "hatchback": {  # short, tall roof running to a near-vertical rear
        "body": [(-0.38, 0.07), (-0.39, 0.3), (-0.34, 0.41), (0.06, 0.41), (0.2, 0.26),
                 (0.36, 0.23), (0.39, 0.18), (0.39, 0.07)],
        "windows": [[(-0.33, 0.28), (-0.31, 0.38), (-0.14, 0.38), (-0.14, 0.28)],
                    [(-0.11, 0.28), (-0.11, 0.38), (0.05, 0.38), (0.16, 0.28)]],
        "details": [], "wheels": (-0.25, 0.25), "r": 0.08, "light": (0.37, 0.19),
        "tail": (-0.38, 0.26)},
    "pickup truck": {  # tall cab, long open bed behind it
        "body": [(-0.5, 0.07), (-0.5, 0.28), (-0.1, 0.28), (-0.1, 0.46), (0.08, 0.46), (0.2, 0.3),
                 (0.46, 0.28), (0.5, 0.22), (0.5, 0.07)],
        "windows": [[(-0.07, 0.31), (-0.07, 0.43), (0.06, 0.43), (0.16, 0.31)]],
        "details": [[(-0.48, 0.235), (-0.13, 0.235), (-0.13, 0.265), (-0.48, 0.265)]],  # bed rail
        "wheels": (-0.32, 0.32), "r": 0.1, "light": (0.48, 0.23), "tail": (-0.49, 0.24)},
    "sports car": {  # low wedge, long hood, rear spoiler
        "body": [(-0.5, 0.06), (-0.5, 0.17), (-0.46, 0.2), (-0.22, 0.21), (-0.1, 0.28),
                 (0.05, 0.28), (0.2, 0.2), (0.5, 0.13), (0.5, 0.06)],
        "windows": [[(-0.17, 0.21), (-0.09, 0.265), (0.04, 0.265), (0.16, 0.2)]],
        "details": [[(-0.5, 0.2), (-0.5, 0.25), (-0.4, 0.25), (-0.42, 0.2)]],  # spoiler
        "wheels": (-0.32, 0.32), "r": 0.075, "light": (0.47, 0.13), "tail": (-0.49, 0.16)},
    "van": {  # tall box with a short sloped nose
        "body": [(-0.46, 0.07), (-0.46, 0.6), (-0.42, 0.64), (0.26, 0.64), (0.42, 0.36),
                 (0.46, 0.32), (0.46, 0.07)],
        "windows": [[(0.25, 0.4), (0.25, 0.59), (0.28, 0.59), (0.39, 0.4)],
                    [(-0.02, 0.42), (-0.02, 0.59), (0.21, 0.59), (0.21, 0.42)]],
        "details": [], "wheels": (-0.3, 0.3), "r": 0.085, "light": (0.45, 0.22),
        "tail": (-0.45, 0.3)},
}

# Cat body plans in cat units (y up from the ground, facing right): body ellipse (x, y, rx, ry),
# head centre, tail (cubic Bezier control points), front legs (shoulder, paw), stripe direction
# across the body.
CAT_POSES: dict[str, dict] = {
    "sitting": {"body": (-0.06, 0.42, 0.34, 0.42), "head": (0.14, 0.98),
                "tail": [(-0.3, 0.06), (-0.78, 0.0), (-0.82, 0.32), (-0.62, 0.56)],
                "legs": [((0.1, 0.4), (0.12, 0.04)), ((0.24, 0.38), (0.26, 0.04))], "stripes": "y"},
    "lying": {"body": (-0.14, 0.22, 0.56, 0.22), "head": (0.5, 0.42),
              "tail": [(-0.66, 0.12), (-1.0, 0.0), (-1.12, 0.16), (-1.0, 0.34)],
              "legs": [((0.2, 0.1), (0.62, 0.05)), ((0.3, 0.14), (0.74, 0.06))], "stripes": "x"},
}
HEAD_R = (0.33, 0.29)


def sample_attributes(rng: random.Random) -> dict[str, object]:
    """One scene: the categorical attributes of its subject plus size, position and colour
    jitter."""
    subject = rng.choice(ATTRIBUTES["subject"])
    attrs: dict[str, object] = {"subject": subject}
    for name, values in SUBJECT_ATTRIBUTES[subject].items():
        attrs[name] = rng.choice(values)
    if attrs["setting"] == "rug":
        attrs["rug_color"] = rng.choice(ATTRIBUTES["rug_color"])
    attrs["time"] = rng.choice(ATTRIBUTES["time"])
    attrs["facing"] = rng.choice(ATTRIBUTES["facing"])
    attrs["scale"] = round(rng.uniform(0.86, 1.08), 4)
    attrs["dx"] = round(rng.uniform(-0.07, 0.07), 4)  # fractions of the width / height
    attrs["dy"] = round(rng.uniform(-0.03, 0.03), 4)
    # Mostly brightness, a little hue: per-channel noise alone turns white pink and grey mauve.
    bright = rng.randint(-COLOR_JITTER + 4, COLOR_JITTER - 4)
    attrs["tint"] = tuple(bright + rng.randint(-4, 4) for _ in range(3))
    attrs["detail"] = rng.randrange(2**31)  # seeds background clutter, stars, spots
    return attrs


def render(attributes: dict, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """Draw one scene as a uint8 (H, W, 3) array; size is (width, height)."""
    width, height = _check_size(size)
    a = _complete(attributes)
    k = 4 if max(width, height) <= 128 else 3 if max(width, height) <= 256 else 2
    canvas = Canvas(width * k, height * k, a["time"] == "night")
    if a["facing"] == "left":  # drawn facing right and mirrored, so keep dx in image coordinates
        a["dx"] = -a["dx"]
    rng = random.Random(a["detail"])
    BACKGROUNDS[a["setting"]](canvas, a, rng)
    (_draw_cat if a["subject"] == "cat" else _draw_car)(canvas, a, rng)
    image = canvas.img.reduce(k)
    if a["facing"] == "left":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(image).copy()


def renderer_fingerprint() -> str:
    """sha256 of the renderer's and caption grammar's source: it changes whenever the data could.
    Caches derived from the procedural data (the attribute classifier, reference statistics) key
    on it."""
    digest = hashlib.sha256()
    for name in ("synthetic.py", "backgrounds.py", "drawing.py", "captions.py"):
        digest.update((Path(__file__).parent / name).read_bytes())
    return digest.hexdigest()


class SyntheticCaptions(torch.utils.data.Dataset):
    """Deterministic captioned scenes: item i of (seed, split) is always the same image and
    captions."""

    def __init__(self, split: str = "train", size: tuple[int, int] = (64, 64), seed: int = 0,
                 length: int | None = None, captions_per_image: int = 5) -> None:
        if split not in SPLIT_LENGTHS:
            raise ValueError(f"split must be one of {sorted(SPLIT_LENGTHS)}, got {split!r}")
        self.size = _check_size(size)
        self.split, self.seed = split, seed
        self.length = SPLIT_LENGTHS[split] if length is None else int(length)
        if self.length < 0 or captions_per_image < 1:
            raise ValueError("length must be >= 0 and captions_per_image >= 1")
        self.captions_per_image = captions_per_image

    def __len__(self) -> int:
        return self.length

    def describe(self, index: int) -> tuple[list[str], dict]:
        """Captions and attributes of scene `index` without drawing it (cheap)."""
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} {self.split} scenes")
        index %= self.length
        # The split name is part of the string seed, so train and test draw from different streams.
        rng = random.Random(f"t2igan-synthetic:{self.seed}:{self.split}:{index}")
        attrs = sample_attributes(rng)
        return make_captions(attrs, rng, self.captions_per_image), attrs

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[str], dict]:
        captions, attrs = self.describe(index)
        pixels = torch.from_numpy(render(attrs, self.size)).permute(2, 0, 1).contiguous()
        return pixels, captions, attrs


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be a (width, height) pair of integers, got {size!r}") from None
    if width < 16 or height < 16:
        raise UserError(f"the procedural scenes are at least 16x16 pixels (got {width}x{height})")
    return width, height


def _complete(attributes: dict) -> dict:
    """Copy with defaults for anything unstated, so hand-written attribute dicts render too."""
    a = dict(attributes)
    subject = a.setdefault("subject", "cat")
    if subject not in SUBJECT_ATTRIBUTES:
        raise ValueError(f"subject must be one of {ATTRIBUTES['subject']}, got {subject!r}")
    wanted = dict(SUBJECT_ATTRIBUTES[subject], time=ATTRIBUTES["time"], facing=ATTRIBUTES["facing"])
    if a.get("setting") == "rug":
        wanted["rug_color"] = ATTRIBUTES["rug_color"]
    for name, values in wanted.items():
        if a.setdefault(name, values[0]) not in values:
            raise ValueError(f"{name} of a {subject} must be one of {values}, got {a[name]!r}")
    a.setdefault("rug_color", "red")
    for name, default in (("scale", 1.0), ("dx", 0.0), ("dy", 0.0), ("tint", (0, 0, 0)),
                          ("detail", 0)):
        a.setdefault(name, default)
    return a


def _marking(fur: RGB) -> RGB:
    """Stripe/spot/outline colour: darker than the fur, except on black fur where darker is
    invisible."""
    return (88, 88, 96) if sum(fur) < 150 else scaled(fur, 0.45)



# ---------------------------------------------------------------- subjects

def _draw_cat(c: Canvas, a: dict, rng: random.Random) -> None:
    fur, plan = jitter(CAT_COLORS[a["color"]], a["tint"]), CAT_POSES[a["pose"]]
    mark = _marking(fur)
    ground = c.h * (GROUND[a["setting"]] + a["dy"])
    # width / height-above-ground limits
    fit = (0.42, 0.95) if a["pose"] == "lying" else (0.5, 0.58)
    unit = a["scale"] * min(c.w * fit[0], ground * fit[1])
    shift = 0.15 * unit if a["pose"] == "lying" else 0.0  # centre the long lying cat, tail included
    f = Frame(c.draw, c.w * (0.5 + a["dx"]) + shift, ground, unit)
    # shadow
    f.ellipse(plan["body"][0], 0.0, plan["body"][2] * 1.1, 0.05, (0, 0, 0, 70), draw=c.blend)
    tail = _bezier(plan["tail"])
    f.line(tail, mark, 0.16)
    f.line(tail, fur, 0.11)
    bx, by, rx, ry = plan["body"]
    f.ellipse(bx, by, rx, ry, fur, mark, 0.03)
    _draw_pattern(f, a, plan, mark, rng)
    for shoulder, paw in plan["legs"]:
        f.line([shoulder, paw], mark, 0.15)
        f.line([shoulder, paw], fur, 0.11)
        f.ellipse(paw[0] + 0.03, paw[1], 0.08, 0.05, fur, mark, 0.02)
    _draw_head(f, a, plan["head"], fur, mark)


def _bezier(ctrl: list[tuple[float, float]], n: int = 9) -> list[tuple[float, float]]:
    """Points along a cubic Bezier curve, so tails curl smoothly at any size."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = ctrl
    pts = []
    for t in np.linspace(0.0, 1.0, n):
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        pts.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return pts


def _draw_pattern(f: Frame, a: dict, plan: dict, mark: RGB, rng: random.Random) -> None:
    """Stripes as chords of the body ellipse and spots at points inside it: clipped analytically."""
    bx, by, rx, ry = plan["body"]
    if a["pattern"] == "striped":
        for t in (-0.62, -0.25, 0.12, 0.49):
            half = math.sqrt(1 - t * t)
            if plan["stripes"] == "y":  # tall body: stripes from the back, across the flank
                y, x0 = by + t * ry, bx - half * rx * 0.9
                f.line([(x0, y), (x0 + 1.2 * half * rx, y)], mark, 0.08)
            else:  # long body: stripes down from the spine
                x, y0 = bx + t * rx, by + half * ry * 0.9
                f.line([(x, y0), (x, y0 - 1.2 * half * ry)], mark, 0.08)
    elif a["pattern"] == "spotted":
        for i in range(7):
            ang, rad = 2 * math.pi * (i / 7 + rng.random() * 0.1), 0.35 + 0.35 * (i % 2)
            f.ellipse(bx + math.cos(ang) * rad * rx, by + math.sin(ang) * rad * ry, 0.075, 0.075,
                      mark)


def _draw_head(f: Frame, a: dict, centre: tuple[float, float], fur: RGB, mark: RGB) -> None:
    hx, hy = centre
    for s in (-1, 1):  # ears, then their pink insides
        f.polygon([(hx + s * 0.31, hy + 0.06), (hx + s * 0.27, hy + 0.5),
                   (hx + s * 0.04, hy + 0.25)], fur, mark, 0.03)
        f.polygon([(hx + s * 0.26, hy + 0.14), (hx + s * 0.245, hy + 0.4),
                   (hx + s * 0.11, hy + 0.25)], (236, 150, 160))
    f.ellipse(hx, hy, *HEAD_R, fur, mark, 0.03)
    if a["pattern"] == "striped":
        for dx in (-0.09, 0.0, 0.09):
            f.line([(hx + dx, hy + 0.27), (hx + dx, hy + 0.14)], mark, 0.05)
    elif a["pattern"] == "spotted":
        f.ellipse(hx - 0.2, hy - 0.14, 0.05, 0.05, mark)
        f.ellipse(hx + 0.21, hy - 0.12, 0.05, 0.05, mark)
    eye = EYE_COLORS[a["eyes"]]
    for s in (-1, 1):  # big iris with a slit pupil looking a little forward
        ex, ey = hx + s * 0.135, hy + 0.03
        f.ellipse(ex, ey, 0.095, 0.105, eye, (15, 15, 15), 0.025)
        f.ellipse(ex + 0.025, ey, 0.028, 0.085, (10, 10, 10))
        f.ellipse(ex + 0.05, ey + 0.045, 0.02, 0.02, (255, 255, 255))
    f.polygon([(hx - 0.05, hy - 0.1), (hx + 0.05, hy - 0.1), (hx, hy - 0.155)], (232, 110, 130))
    whisker = (235, 235, 235) if sum(fur) < 200 else (60, 60, 60)
    for s in (-1, 1):
        f.line([(hx + s * 0.1, hy - 0.15), (hx + s * 0.44, hy - 0.1)], whisker, 0.012)
        f.line([(hx + s * 0.1, hy - 0.17), (hx + s * 0.43, hy - 0.22)], whisker, 0.012)


def _draw_car(c: Canvas, a: dict, rng: random.Random) -> None:
    shape, paint = CAR_SHAPES[a["car_type"]], jitter(CAR_COLORS[a["color"]], a["tint"])
    trim = (90, 90, 96) if sum(paint) < 150 else scaled(paint, 0.5)
    ground = c.h * (GROUND[a["setting"]] + a["dy"])
    # Cars nearly fill the width, so they move half as far sideways as cats: headlights stay in
    # view.
    f = Frame(c.draw, c.w * (0.5 + a["dx"] / 2), ground, a["scale"] * min(c.w * 0.8, ground * 1.2))
    f.ellipse(0.0, 0.0, 0.52, 0.035, (0, 0, 0, 90), draw=c.blend)  # shadow
    f.polygon(shape["body"], paint, trim, 0.012)
    glass = (44, 56, 84) if c.night else (165, 205, 230)
    for window in shape["windows"]:
        f.polygon(window, glass, trim, 0.008)
    for detail in shape["details"]:
        f.polygon(detail, trim)
    for x in shape["wheels"]:
        r = shape["r"]
        f.ellipse(x, r, r * 1.12, r * 1.12, (22, 22, 24))  # arch shadow behind the tyre
        f.ellipse(x, r, r, r, (30, 30, 32))
        f.ellipse(x, r, r * 0.5, r * 0.5, (175, 178, 185))
    lx, ly = shape["light"]
    tx, ty = shape["tail"]
    f.ellipse(tx, ty, 0.015, 0.025, (220, 20, 20) if not c.night else (255, 40, 40))
    if c.night:  # lit headlight with a wide pale beam along the road
        f.polygon([(lx, ly + 0.02), (lx + 0.8, ly + 0.1), (lx + 0.8, -0.02), (lx, ly - 0.02)],
                  (255, 244, 170, 150), draw=c.blend)
        f.ellipse(lx, ly, 0.06, 0.06, (255, 250, 200, 130), draw=c.blend)
        f.ellipse(lx, ly, 0.03, 0.03, (255, 255, 235))
    else:
        f.ellipse(lx, ly, 0.022, 0.022, (250, 240, 190), trim, 0.006)
