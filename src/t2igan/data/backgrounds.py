"""Backgrounds of the procedural scenes, one function per setting, drawn before the subject."""

from __future__ import annotations

import random

import numpy as np

from t2igan.data.drawing import RGB, Canvas, scaled

# Saturated, unlike every fur colour; purple and blue differ in red by >90.
RUG_COLORS: dict[str, RGB] = {
    "red": (200, 28, 48), "blue": (36, 70, 205), "green": (34, 150, 64), "purple": (140, 46, 184),
}
WALL = (222, 212, 190)
SKY_DAY, SKY_NIGHT = (128, 190, 240), (14, 20, 58)


def _sky(c: Canvas, rng: random.Random, box: tuple[float, float, float, float]) -> None:
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


def _room(c: Canvas, rng: random.Random, floor_y: float) -> None:
    """Wall with a window onto the sky, above a wooden floor."""
    c.rect(0, 0, 1, 1, c.bg(WALL, 0.36))
    c.rect(0, floor_y, 1, 1, c.bg((176, 132, 92)))
    for i in range(1, 6):  # floor boards
        y = floor_y + (1 - floor_y) * i / 6
        c.draw.line((0, y * c.h, c.w, y * c.h), fill=c.bg((140, 100, 66)), width=max(1, c.m // 200))
    c.rect(0.05, 0.06, 0.33, 0.4, c.bg((250, 250, 250)))
    _sky(c, rng, (0.07 * c.w, 0.08 * c.h, 0.31 * c.w, 0.38 * c.h))
    c.rect(0.185, 0.06, 0.195, 0.4, c.bg((250, 250, 250)))


def _bg_rug(c: Canvas, a: dict, rng: random.Random) -> None:
    _room(c, rng, 0.5)
    rug = RUG_COLORS[a["rug_color"]]
    rug = scaled(rug, 0.75) if c.night else rug  # dimmed less than the room: its colour matters
    c.rect(0.04, 0.6, 0.96, 0.98, scaled(rug, 0.6), radius=0.04)
    c.rect(0.07, 0.63, 0.93, 0.95, rug, radius=0.03)
    c.rect(0.12, 0.68, 0.88, 0.9, scaled(rug, 1.25), radius=0.02)
    c.rect(0.16, 0.71, 0.84, 0.87, rug, radius=0.02)


def _bg_sofa(c: Canvas, a: dict, rng: random.Random) -> None:
    _room(c, rng, 0.9)
    sofa = c.bg((58, 108, 118), 0.55)
    light = c.bg((78, 134, 144), 0.55)
    c.rect(0.03, 0.42, 0.97, 0.92, sofa, radius=0.05)
    c.rect(0.12, 0.45, 0.495, 0.74, light, radius=0.05)  # back cushions
    c.rect(0.505, 0.45, 0.88, 0.74, light, radius=0.05)
    c.rect(0.0, 0.56, 0.13, 0.95, sofa, radius=0.04)  # arm rests
    c.rect(0.87, 0.56, 1.0, 0.95, sofa, radius=0.04)
    c.rect(0.11, 0.74, 0.89, 0.88, light, radius=0.03)  # seat cushion


def _bg_grass(c: Canvas, a: dict, rng: random.Random) -> None:
    _sky(c, rng, (0, 0, c.w, 0.5 * c.h))
    c.rect(0, 0.45, 1, 1, c.bg((82, 168, 62)))
    dark = c.bg((50, 120, 40))
    for _ in range(24):  # grass tufts
        x, y = rng.uniform(0, c.w), rng.uniform(0.5, 1.0) * c.h
        c.draw.line((x, y, x + 0.01 * c.m, y - 0.04 * c.m), fill=dark, width=max(1, c.m // 120))


def _road(c: Canvas, y0: float, y1: float, color: RGB, dashes: RGB | None) -> None:
    c.rect(0, y0, 1, y1, c.bg(color))
    if dashes:
        y = (0.25 * y0 + 0.75 * y1) * c.h
        for i in range(6):
            x = (i / 6 + 0.02) * c.w
            c.draw.line((x, y, x + 0.09 * c.w, y), fill=c.bg(dashes, 0.6), width=max(1, c.m // 70))


def _bg_city(c: Canvas, a: dict, rng: random.Random) -> None:
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


def _bg_country(c: Canvas, a: dict, rng: random.Random) -> None:
    _sky(c, rng, (0, 0, c.w, 0.55 * c.h))
    for cx, green in ((rng.uniform(0.1, 0.4), (96, 170, 70)),
                      (rng.uniform(0.6, 0.9), (70, 146, 60))):
        c.draw.ellipse(((cx - 0.5) * c.w, 0.38 * c.h, (cx + 0.5) * c.w, 0.9 * c.h),
                       fill=c.bg(green))
    c.rect(0, 0.6, 1, 1, c.bg((190, 196, 90)))  # field
    for _ in range(3):  # trees on the horizon
        tx, ty, tr = rng.uniform(0.05, 0.95) * c.w, rng.uniform(0.44, 0.52) * c.h, 0.06 * c.m
        c.draw.rectangle((tx - tr * 0.2, ty, tx + tr * 0.2, ty + 2.2 * tr),
                         fill=c.bg((100, 70, 40)))
        c.draw.ellipse((tx - tr, ty - 1.3 * tr, tx + tr, ty + 0.7 * tr), fill=c.bg((40, 110, 40)))
    c.rect(0, 0.74, 1, 0.95, c.bg((150, 140, 120)))
    c.rect(0, 0.95, 1, 1, c.bg((82, 160, 62)))


def _bg_parking(c: Canvas, a: dict, rng: random.Random) -> None:
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
