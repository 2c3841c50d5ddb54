"""Encoded image bytes -> RGB uint8 pixels at the training size, or a reason why not.

Every reader in t2igan.data goes through `decode_image`, so every format gets the same policy:

- orientation: the EXIF orientation tag is applied (phone photos stand upright);
- colour: any Pillow mode (greyscale, palette, RGBA, CMYK, 16-bit) becomes 8-bit RGB; transparent
  pixels become white, as a viewer shows them on a white page;
- size, by `fit`:
    crop     centre-crop to the target aspect, then resize (default; nothing is distorted)
    pad      resize to fit inside, centred on black bars (the whole object stays in view)
    stretch  resize to the target, changing the aspect
  always with Lanczos filtering, after JPEG's free draft-mode downscale for large photos;
- safety: an image over `MAX_PIXELS` is refused before it is decoded (a decompression bomb:
  a few kilobytes that would expand to gigabytes).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

FITS = ("crop", "pad", "stretch")
# Pillow's own warning threshold (about 9,459 x 9,459), refused here outright
MAX_PIXELS = 89_478_485
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff",
                              ".ppm", ".pgm"})


class BadImage(Exception):
    """An image that cannot be used; str(error) says why, for the skip report, and .name which
    one."""

    def __init__(self, reason: str, name: str = "") -> None:
        super().__init__(reason)
        self.reason, self.name = reason, name


def decode_image(data: bytes, size: tuple[int, int], fit: str = "crop") -> np.ndarray:
    """Encoded bytes -> uint8 (H, W, 3) at size=(W, H); raises BadImage with the reason."""
    try:
        with warnings.catch_warnings():
            # we refuse those ourselves
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise BadImage(f"decompression bomb: {error}") from None
    except Image.UnidentifiedImageError:
        raise BadImage("not an image (no image format recognised in its bytes)") from None
    except (OSError, ValueError, SyntaxError) as error:
        # a known format whose header is cut or broken
        raise BadImage(f"corrupt or truncated ({type(error).__name__}: {error})") from None
    if image.width * image.height > MAX_PIXELS:
        raise BadImage(f"decompression bomb: {image.width}x{image.height} is over "
                       f"{MAX_PIXELS:,} pixels")
    try:
        side = max(size)  # EXIF may swap the axes: ask the draft for enough of either
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that is enough
        image.draft("RGB", (side, side))
        image = ImageOps.exif_transpose(image)
        return fit_pixels(to_rgb(image), size, fit)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise BadImage(f"corrupt or truncated ({type(error).__name__}: {error})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparency over white; 16-bit and float greyscale scaled to 8 bits."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def fit_pixels(image: Image.Image, size: tuple[int, int], fit: str = "crop") -> np.ndarray:
    """RGB image -> uint8 (H, W, 3) at size=(W, H) by the `fit` policy (module docstring)."""
    width, height = size
    if image.size == size:
        # already right: keep the pixels exactly (formats round-trip byte for byte)
        return np.array(image, dtype=np.uint8)
    if fit == "stretch":
        return np.array(image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0),
                        dtype=np.uint8)
    if fit == "pad":
        scale = min(width / image.width, height / image.height)
        inner = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        canvas = Image.new("RGB", size)
        canvas.paste(image.resize(inner, Image.Resampling.LANCZOS, reducing_gap=3.0),
                     ((width - inner[0]) // 2, (height - inner[1]) // 2))
        return np.array(canvas, dtype=np.uint8)
    if fit != "crop":
        raise ValueError(f"fit must be one of {FITS}, not {fit!r}")
    scale = min(image.width / width, image.height / height)
    crop_w, crop_h = round(width * scale), round(height * scale)
    left, top = (image.width - crop_w) // 2, (image.height - crop_h) // 2
    box = (left, top, left + crop_w, top + crop_h)
    return np.array(image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=3.0),
                    dtype=np.uint8)
