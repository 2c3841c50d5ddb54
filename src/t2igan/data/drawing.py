"""Drawing primitives of the procedural scenes: a supersampled canvas and a subject's frame."""

from __future__ import annotations

from PIL import Image, ImageDraw

RGB = tuple[int, int, int]


def jitter(color: RGB, tint) -> RGB:
    return tuple(min(255, max(0, c + t)) for c, t in zip(color, tint))


def scaled(color: RGB, factor: float) -> RGB:
    return tuple(min(255, int(c * factor)) for c in color)



class Canvas:
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

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: RGB,
             radius: float = 0) -> None:
        """Rectangle in fractions of the width and height."""
        box = (x0 * self.w, y0 * self.h, x1 * self.w, y1 * self.h)
        if radius:
            self.draw.rounded_rectangle(box, radius=radius * self.m, fill=fill)
        else:
            self.draw.rectangle(box, fill=fill)


class Frame:
    """Maps subject units (x right, y up from the ground line) to canvas pixels."""

    def __init__(self, draw: ImageDraw.ImageDraw, ox: float, oy: float, unit: float) -> None:
        self.d, self.ox, self.oy, self.u = draw, ox, oy, unit

    def p(self, x: float, y: float) -> tuple[float, float]:
        return self.ox + x * self.u, self.oy - y * self.u

    def w(self, width: float) -> int:
        return max(1, round(width * self.u))

    def ellipse(self, x, y, rx, ry, fill, outline=None, width=0.0, draw=None) -> None:
        box = (*self.p(x - rx, y + ry), *self.p(x + rx, y - ry))
        (draw or self.d).ellipse(box, fill=fill, outline=outline,
                                 width=self.w(width) if outline else 0)

    def polygon(self, pts, fill, outline=None, width=0.0, draw=None) -> None:
        (draw or self.d).polygon([self.p(x, y) for x, y in pts], fill=fill, outline=outline,
                                 width=self.w(width) if outline else 0)

    def line(self, pts, fill, width: float) -> None:
        self.d.line([self.p(x, y) for x, y in pts], fill=fill, width=self.w(width), joint="curve")
