"""Procedural captioned cats and cars: the toolkit's embedded default dataset.

Scenes are vector shapes drawn with Pillow at k times the requested size and box-downsampled, so
edges are anti-aliased at any size. Every categorical attribute changes the picture in a way a small
CNN can read at 64x64: a big head with big coloured eyes, thick stripes and spots, distinct car
silhouettes, and backgrounds that differ in layout rather than only in hue.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image, ImageDraw

from t2igan.data.captions import make_captions

RGB = tuple[int, int, int]

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
EYE_COLORS: dict[str, RGB] = {"green": (70, 215, 60), "blue": (40, 140, 255), "yellow": (255, 225, 30)}
# Saturated, unlike every fur colour; purple and blue differ in red by >90.
RUG_COLORS: dict[str, RGB] = {
    "red": (200, 28, 48), "blue": (36, 70, 205), "green": (34, 150, 64), "purple": (140, 46, 184),
}
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
    "cat": {"color": tuple(CAT_COLORS), "pattern": ATTRIBUTES["pattern"], "eyes": ATTRIBUTES["eyes"],
            "pose": ATTRIBUTES["pose"], "setting": ("rug", "grass", "sofa")},
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
        "body": [(-0.5, 0.07), (-0.5, 0.21), (-0.46, 0.25), (-0.27, 0.26), (-0.16, 0.38), (0.1, 0.38),
                 (0.22, 0.26), (0.45, 0.23), (0.5, 0.18), (0.5, 0.07)],
        "windows": [[(-0.15, 0.27), (-0.09, 0.355), (-0.02, 0.355), (-0.02, 0.27)],
                    [(0.01, 0.27), (0.01, 0.355), (0.09, 0.355), (0.19, 0.27)]],
        "details": [], "wheels": (-0.31, 0.31), "r": 0.085, "light": (0.48, 0.19), "tail": (-0.49, 0.2)},
    "hatchback": {  # short, tall roof running to a near-vertical rear
        "body": [(-0.38, 0.07), (-0.39, 0.3), (-0.34, 0.41), (0.06, 0.41), (0.2, 0.26), (0.36, 0.23),
                 (0.39, 0.18), (0.39, 0.07)],
        "windows": [[(-0.33, 0.28), (-0.31, 0.38), (-0.14, 0.38), (-0.14, 0.28)],
                    [(-0.11, 0.28), (-0.11, 0.38), (0.05, 0.38), (0.16, 0.28)]],
        "details": [], "wheels": (-0.25, 0.25), "r": 0.08, "light": (0.37, 0.19), "tail": (-0.38, 0.26)},
    "pickup truck": {  # tall cab, long open bed behind it
        "body": [(-0.5, 0.07), (-0.5, 0.28), (-0.1, 0.28), (-0.1, 0.46), (0.08, 0.46), (0.2, 0.3),
                 (0.46, 0.28), (0.5, 0.22), (0.5, 0.07)],
        "windows": [[(-0.07, 0.31), (-0.07, 0.43), (0.06, 0.43), (0.16, 0.31)]],
        "details": [[(-0.48, 0.235), (-0.13, 0.235), (-0.13, 0.265), (-0.48, 0.265)]],  # bed rail
        "wheels": (-0.32, 0.32), "r": 0.1, "light": (0.48, 0.23), "tail": (-0.49, 0.24)},
    "sports car": {  # low wedge, long hood, rear spoiler
        "body": [(-0.5, 0.06), (-0.5, 0.17), (-0.46, 0.2), (-0.22, 0.21), (-0.1, 0.28), (0.05, 0.28),
                 (0.2, 0.2), (0.5, 0.13), (0.5, 0.06)],
        "windows": [[(-0.17, 0.21), (-0.09, 0.265), (0.04, 0.265), (0.16, 0.2)]],
        "details": [[(-0.5, 0.2), (-0.5, 0.25), (-0.4, 0.25), (-0.42, 0.2)]],  # spoiler
        "wheels": (-0.32, 0.32), "r": 0.075, "light": (0.47, 0.13), "tail": (-0.49, 0.16)},
    "van": {  # tall box with a short sloped nose
        "body": [(-0.46, 0.07), (-0.46, 0.6), (-0.42, 0.64), (0.26, 0.64), (0.42, 0.36), (0.46, 0.32),
                 (0.46, 0.07)],
        "windows": [[(0.25, 0.4), (0.25, 0.59), (0.28, 0.59), (0.39, 0.4)],
                    [(-0.02, 0.42), (-0.02, 0.59), (0.21, 0.59), (0.21, 0.42)]],
        "details": [], "wheels": (-0.3, 0.3), "r": 0.085, "light": (0.45, 0.22), "tail": (-0.45, 0.3)},
}

# Cat body plans in cat units (y up from the ground, facing right): body ellipse (x, y, rx, ry),
# head centre, tail (cubic Bezier control points), front legs (shoulder, paw), stripe direction across the body.
CAT_POSES: dict[str, dict] = {
    "sitting": {"body": (-0.06, 0.42, 0.34, 0.42), "head": (0.14, 0.98),
                "tail": [(-0.3, 0.06), (-0.78, 0.0), (-0.82, 0.32), (-0.62, 0.56)],
                "legs": [((0.1, 0.4), (0.12, 0.04)), ((0.24, 0.38), (0.26, 0.04))], "stripes": "y"},
    "lying": {"body": (-0.14, 0.22, 0.56, 0.22), "head": (0.5, 0.42),
              "tail": [(-0.66, 0.12), (-1.0, 0.0), (-1.12, 0.16), (-1.0, 0.34)],
              "legs": [((0.2, 0.1), (0.62, 0.05)), ((0.3, 0.14), (0.74, 0.06))], "stripes": "x"},
}
HEAD_R = (0.33, 0.29)
WALL = (222, 212, 190)
SKY_DAY, SKY_NIGHT = (128, 190, 240), (14, 20, 58)


def sample_attributes(rng: random.Random) -> dict[str, object]:
    """One scene: the categorical attributes of its subject plus size, position and colour jitter."""
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
    canvas = _Canvas(width * k, height * k, a["time"] == "night")
    if a["facing"] == "left":  # drawn facing right and mirrored, so keep dx in image coordinates
        a["dx"] = -a["dx"]
    rng = random.Random(a["detail"])
    BACKGROUNDS[a["setting"]](canvas, a, rng)
    (_draw_cat if a["subject"] == "cat" else _draw_car)(canvas, a, rng)
    image = canvas.img.reduce(k)
    if a["facing"] == "left":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(image).copy()


class SyntheticCaptions(torch.utils.data.Dataset):
    """Deterministic captioned scenes: item i of (seed, split) is always the same image and captions."""

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
        raise ValueError(f"size must be at least 16x16 pixels, got width={width}, height={height}")
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
    for name, default in (("scale", 1.0), ("dx", 0.0), ("dy", 0.0), ("tint", (0, 0, 0)), ("detail", 0)):
        a.setdefault(name, default)
    return a


def _jitter(color: RGB, tint) -> RGB:
    return tuple(min(255, max(0, c + t)) for c, t in zip(color, tint))


def _scaled(color: RGB, factor: float) -> RGB:
    return tuple(min(255, int(c * factor)) for c in color)


def _marking(fur: RGB) -> RGB:
    """Stripe/spot/outline colour: darker than the fur, except on black fur where darker is invisible."""
    return (88, 88, 96) if sum(fur) < 150 else _scaled(fur, 0.45)


class _Canvas:
    """The supersampled surface; `bg` dims background colours at night but never the subject."""

    def __init__(self, w: int, h: int, night: bool) -> None:
        self.img = Image.new("RGB", (w, h))
        self.draw = ImageDraw.Draw(self.img)
        self.blend = ImageDraw.Draw(self.img, "RGBA")  # only for light beams and shadows (slower)
        self.w, self.h, self.m, self.night = w, h, min(w, h), night

    def bg(self, color: RGB, night: float = 0.42) -> RGB:
        if not self.night:
            return color
        return tuple(int(c * night) + b for c, b in zip(color, (4, 6, 24)))

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: RGB, radius: float = 0) -> None:
        """Rectangle in fractions of the width and height."""
        box = (x0 * self.w, y0 * self.h, x1 * self.w, y1 * self.h)
        if radius:
            self.draw.rounded_rectangle(box, radius=radius * self.m, fill=fill)
        else:
            self.draw.rectangle(box, fill=fill)


class _Frame:
    """Maps subject units (x right, y up from the ground line) to canvas pixels."""

    def __init__(self, draw: ImageDraw.ImageDraw, ox: float, oy: float, unit: float) -> None:
        self.d, self.ox, self.oy, self.u = draw, ox, oy, unit

    def p(self, x: float, y: float) -> tuple[float, float]:
        return self.ox + x * self.u, self.oy - y * self.u

    def w(self, width: float) -> int:
        return max(1, round(width * self.u))

    def ellipse(self, x, y, rx, ry, fill, outline=None, width=0.0, draw=None) -> None:
        box = (*self.p(x - rx, y + ry), *self.p(x + rx, y - ry))
        (draw or self.d).ellipse(box, fill=fill, outline=outline, width=self.w(width) if outline else 0)

    def polygon(self, pts, fill, outline=None, width=0.0, draw=None) -> None:
        (draw or self.d).polygon([self.p(x, y) for x, y in pts], fill=fill, outline=outline,
                                 width=self.w(width) if outline else 0)

    def line(self, pts, fill, width: float) -> None:
        self.d.line([self.p(x, y) for x, y in pts], fill=fill, width=self.w(width), joint="curve")


# ---------------------------------------------------------------- subjects

def _draw_cat(c: _Canvas, a: dict, rng: random.Random) -> None:
    fur, plan = _jitter(CAT_COLORS[a["color"]], a["tint"]), CAT_POSES[a["pose"]]
    mark = _marking(fur)
    ground = c.h * (GROUND[a["setting"]] + a["dy"])
    fit = (0.42, 0.95) if a["pose"] == "lying" else (0.5, 0.58)  # width / height-above-ground limits
    unit = a["scale"] * min(c.w * fit[0], ground * fit[1])
    shift = 0.15 * unit if a["pose"] == "lying" else 0.0  # centre the long lying cat, tail included
    f = _Frame(c.draw, c.w * (0.5 + a["dx"]) + shift, ground, unit)
    f.ellipse(plan["body"][0], 0.0, plan["body"][2] * 1.1, 0.05, (0, 0, 0, 70), draw=c.blend)  # shadow
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


def _draw_pattern(f: _Frame, a: dict, plan: dict, mark: RGB, rng: random.Random) -> None:
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
            f.ellipse(bx + math.cos(ang) * rad * rx, by + math.sin(ang) * rad * ry, 0.075, 0.075, mark)


def _draw_head(f: _Frame, a: dict, centre: tuple[float, float], fur: RGB, mark: RGB) -> None:
    hx, hy = centre
    for s in (-1, 1):  # ears, then their pink insides
        f.polygon([(hx + s * 0.31, hy + 0.06), (hx + s * 0.27, hy + 0.5), (hx + s * 0.04, hy + 0.25)],
                  fur, mark, 0.03)
        f.polygon([(hx + s * 0.26, hy + 0.14), (hx + s * 0.245, hy + 0.4), (hx + s * 0.11, hy + 0.25)],
                  (236, 150, 160))
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


def _draw_car(c: _Canvas, a: dict, rng: random.Random) -> None:
    shape, paint = CAR_SHAPES[a["car_type"]], _jitter(CAR_COLORS[a["color"]], a["tint"])
    trim = (90, 90, 96) if sum(paint) < 150 else _scaled(paint, 0.5)
    ground = c.h * (GROUND[a["setting"]] + a["dy"])
    # Cars nearly fill the width, so they move half as far sideways as cats: headlights stay in view.
    f = _Frame(c.draw, c.w * (0.5 + a["dx"] / 2), ground, a["scale"] * min(c.w * 0.8, ground * 1.2))
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


# ---------------------------------------------------------------- backgrounds

def _sky(c: _Canvas, rng: random.Random, box: tuple[float, float, float, float]) -> None:
    """Sky in a pixel box: sun and clouds by day, moon and stars by night."""
    x0, y0, x1, y1 = box
    c.draw.rectangle(box, fill=SKY_NIGHT if c.night else SKY_DAY)
    r = 0.2 * min(x1 - x0, y1 - y0)
    # The moon's crescent is cut with a sky-coloured disc that must stay inside the box.
    cx, cy = x0 + (x1 - x0) * rng.uniform(0.55, 0.7), y0 + (y1 - y0) * rng.uniform(0.3, 0.45)
    if c.night:
        for _ in range(12):
            sx, sy, sr = rng.uniform(x0, x1), rng.uniform(y0, y1), 0.009 * c.m
            c.draw.ellipse((sx - sr, sy - sr, sx + sr, sy + sr), fill=(255, 255, 230))
        c.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(245, 240, 200))
        c.draw.ellipse((cx - 0.4 * r, cy - 1.1 * r, cx + 1.4 * r, cy + 0.7 * r), fill=SKY_NIGHT)
    else:
        c.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 226, 60))
        kx, ky = x0 + (x1 - x0) * rng.uniform(0.1, 0.4), y0 + (y1 - y0) * 0.35
        for ox, oy, s in ((0, 0, 1.0), (0.9, 0.2, 0.8), (-0.9, 0.25, 0.7)):
            cr = r * 0.8 * s
            c.draw.ellipse((kx + ox * r - cr * 1.3, ky + oy * r - cr, kx + ox * r + cr * 1.3,
                            ky + oy * r + cr), fill=(250, 250, 252))


def _room(c: _Canvas, rng: random.Random, floor_y: float) -> None:
    """Wall with a window onto the sky, above a wooden floor."""
    c.rect(0, 0, 1, 1, c.bg(WALL, 0.36))
    c.rect(0, floor_y, 1, 1, c.bg((176, 132, 92)))
    for i in range(1, 6):  # floor boards
        y = floor_y + (1 - floor_y) * i / 6
        c.draw.line((0, y * c.h, c.w, y * c.h), fill=c.bg((140, 100, 66)), width=max(1, c.m // 200))
    c.rect(0.05, 0.06, 0.33, 0.4, c.bg((250, 250, 250)))
    _sky(c, rng, (0.07 * c.w, 0.08 * c.h, 0.31 * c.w, 0.38 * c.h))
    c.rect(0.185, 0.06, 0.195, 0.4, c.bg((250, 250, 250)))


def _bg_rug(c: _Canvas, a: dict, rng: random.Random) -> None:
    _room(c, rng, 0.5)
    rug = RUG_COLORS[a["rug_color"]]
    rug = _scaled(rug, 0.75) if c.night else rug  # dimmed less than the room: its colour matters
    c.rect(0.04, 0.6, 0.96, 0.98, _scaled(rug, 0.6), radius=0.04)
    c.rect(0.07, 0.63, 0.93, 0.95, rug, radius=0.03)
    c.rect(0.12, 0.68, 0.88, 0.9, _scaled(rug, 1.25), radius=0.02)
    c.rect(0.16, 0.71, 0.84, 0.87, rug, radius=0.02)


def _bg_sofa(c: _Canvas, a: dict, rng: random.Random) -> None:
    _room(c, rng, 0.9)
    sofa = c.bg((58, 108, 118), 0.55)
    light = c.bg((78, 134, 144), 0.55)
    c.rect(0.03, 0.42, 0.97, 0.92, sofa, radius=0.05)
    c.rect(0.12, 0.45, 0.495, 0.74, light, radius=0.05)  # back cushions
    c.rect(0.505, 0.45, 0.88, 0.74, light, radius=0.05)
    c.rect(0.0, 0.56, 0.13, 0.95, sofa, radius=0.04)  # arm rests
    c.rect(0.87, 0.56, 1.0, 0.95, sofa, radius=0.04)
    c.rect(0.11, 0.74, 0.89, 0.88, light, radius=0.03)  # seat cushion


def _bg_grass(c: _Canvas, a: dict, rng: random.Random) -> None:
    _sky(c, rng, (0, 0, c.w, 0.5 * c.h))
    c.rect(0, 0.45, 1, 1, c.bg((82, 168, 62)))
    dark = c.bg((50, 120, 40))
    for _ in range(24):  # grass tufts
        x, y = rng.uniform(0, c.w), rng.uniform(0.5, 1.0) * c.h
        c.draw.line((x, y, x + 0.01 * c.m, y - 0.04 * c.m), fill=dark, width=max(1, c.m // 120))


def _road(c: _Canvas, y0: float, y1: float, color: RGB, dashes: RGB | None) -> None:
    c.rect(0, y0, 1, y1, c.bg(color))
    if dashes:
        y = (0.25 * y0 + 0.75 * y1) * c.h
        for i in range(6):
            x = (i / 6 + 0.02) * c.w
            c.draw.line((x, y, x + 0.09 * c.w, y), fill=c.bg(dashes, 0.6), width=max(1, c.m // 70))


def _bg_city(c: _Canvas, a: dict, rng: random.Random) -> None:
    _sky(c, rng, (0, 0, c.w, 0.62 * c.h))
    x = rng.uniform(-0.1, 0.0) * c.w
    while x < c.w:  # building silhouettes with a grid of windows, lit at night
        bw, top = rng.uniform(0.15, 0.24) * c.w, rng.uniform(0.1, 0.38) * c.h
        c.draw.rectangle((x, top, x + bw - 1, 0.63 * c.h), fill=c.bg(rng.choice(
            ((120, 116, 128), (150, 128, 110), (96, 104, 120), (136, 138, 140))), 0.3))
        for wx in np.arange(x + 0.03 * c.w, x + bw - 0.04 * c.w, 0.055 * c.w):
            for wy in np.arange(top + 0.04 * c.h, 0.56 * c.h, 0.08 * c.h):
                lit = c.night and rng.random() < 0.6
                fill = (255, 220, 110) if lit else c.bg((176, 208, 228), 0.25)
                c.draw.rectangle((wx, wy, wx + 0.026 * c.w, wy + 0.04 * c.h), fill=fill)
        x += bw
    c.rect(0, 0.62, 1, 0.7, c.bg((176, 174, 168)))  # sidewalk
    _road(c, 0.7, 1.0, (72, 72, 78), (250, 250, 250))


def _bg_country(c: _Canvas, a: dict, rng: random.Random) -> None:
    _sky(c, rng, (0, 0, c.w, 0.55 * c.h))
    for cx, green in ((rng.uniform(0.1, 0.4), (96, 170, 70)), (rng.uniform(0.6, 0.9), (70, 146, 60))):
        c.draw.ellipse(((cx - 0.5) * c.w, 0.38 * c.h, (cx + 0.5) * c.w, 0.9 * c.h), fill=c.bg(green))
    c.rect(0, 0.6, 1, 1, c.bg((190, 196, 90)))  # field
    for _ in range(3):  # trees on the horizon
        tx, ty, tr = rng.uniform(0.05, 0.95) * c.w, rng.uniform(0.44, 0.52) * c.h, 0.06 * c.m
        c.draw.rectangle((tx - tr * 0.2, ty, tx + tr * 0.2, ty + 2.2 * tr), fill=c.bg((100, 70, 40)))
        c.draw.ellipse((tx - tr, ty - 1.3 * tr, tx + tr, ty + 0.7 * tr), fill=c.bg((40, 110, 40)))
    c.rect(0, 0.74, 1, 0.95, c.bg((150, 140, 120)))
    c.rect(0, 0.95, 1, 1, c.bg((82, 160, 62)))


def _bg_parking(c: _Canvas, a: dict, rng: random.Random) -> None:
    _sky(c, rng, (0, 0, c.w, 0.3 * c.h))
    c.rect(0, 0.22, 1, 0.34, c.bg((44, 96, 52)))  # hedge
    c.rect(0, 0.34, 1, 1, c.bg((104, 104, 110)))
    line, width = c.bg((245, 245, 245), 0.7), max(1, c.m // 60)
    c.draw.line((0, 0.42 * c.h, c.w, 0.42 * c.h), fill=line, width=width)
    for i in range(-1, 6):  # slanted parking bays
        x = (i / 5 + rng.uniform(-0.02, 0.02)) * c.w
        c.draw.line((x, 0.42 * c.h, x - 0.08 * c.w, 0.98 * c.h), fill=line, width=width)


BACKGROUNDS = {"rug": _bg_rug, "grass": _bg_grass, "sofa": _bg_sofa, "city street": _bg_city,
               "country road": _bg_country, "parking lot": _bg_parking}
