"""The one place images change convention, and sample grids.

uint8 (N, 3, H, W) in [0, 255] is the storage convention (datasets, metrics, files);
float in [-1, 1] is the model convention. Nothing else converts between them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from t2igan.errors import UserError
from t2igan.files import atomic_path


def to_model(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255], clamped (G's tanh can round past the ends)."""
    return images.detach().float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        # bundled TrueType font, Pillow >= 10.1 with FreeType
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()


def _wrap(text: str, draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + [line] if line else lines


def grid_image(images: torch.Tensor, captions: list[str] | None = None, columns: int | None = None,
               pad: int = 2) -> Image.Image:
    """Lay out uint8 (N, 3, H, W) images in rows; with captions, one per row, printed under it."""
    n, _, h, w = images.shape
    columns = columns or (n // len(captions) if captions else int(np.ceil(np.sqrt(n))))
    rows = -(-n // columns)
    font = _font(max(10, min(16, h // 5)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = columns * (w + pad) + pad
    wrapped = ([_wrap(c, probe, font, width - 2 * pad) for c in captions]
               if captions else [[]] * rows)
    line_h = int(font.size * 1.25) if hasattr(font, "size") else 12
    text_h = [len(lines) * line_h + (pad if lines else 0) for lines in wrapped]
    canvas = Image.new("RGB", (width, rows * (h + pad) + pad + sum(text_h)), "white")
    draw = ImageDraw.Draw(canvas)
    array = images.permute(0, 2, 3, 1).cpu().numpy()
    y = pad
    for r in range(rows):
        for c in range(columns):
            i = r * columns + c
            if i < n:
                canvas.paste(Image.fromarray(array[i]), (pad + c * (w + pad), y))
        y += h + pad
        for line in wrapped[r]:
            draw.text((pad, y), line, fill="black", font=font)
            y += line_h
        y += pad if wrapped[r] else 0
    return canvas


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write a PNG atomically: a reader never sees half a file."""
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG")
    return Path(path)


ANIMATION_FORMATS = {".gif": "GIF", ".webp": "WEBP"}


def save_animation(frames: list[Image.Image], path: str | os.PathLike,
                   frame_ms: int = 120) -> Path:
    """An endlessly looping GIF or WebP (by the path's suffix) that plays the frames forward then
    back, so the loop has no jump; written atomically."""
    path = Path(path)
    kind = ANIMATION_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path}: an animation is .gif or .webp")
    played = frames + frames[-2:0:-1]
    with atomic_path(path) as temporary:
        played[0].save(temporary, format=kind, save_all=True, append_images=played[1:],
                       duration=frame_ms, loop=0)
    return path


def save_interpolation(images: torch.Tensor, steps: int, captions: list[str], grid_path: Path,
                       animation_path: Path) -> tuple[Path, Path]:
    """uint8 (rows * steps, 3, H, W), row-major -> a grid (one row per caption) and an animation
    whose frame t shows column t of every row side by side, enlarged to at least 192 px high."""
    rows, (height, width) = len(images) // steps, images.shape[2:]
    grid = save_png(grid_image(images, captions=captions, columns=steps), grid_path)
    by_column = images.view(rows, steps, 3, height, width).permute(1, 3, 0, 4, 2)  # (T, H, R, W, 3)
    scale = max(1, -(-192 // height))
    frames = [Image.fromarray(frame.reshape(height, rows * width, 3).numpy())
              .resize((rows * width * scale, height * scale), Image.NEAREST)
              for frame in by_column]
    return grid, save_animation(frames, animation_path)
