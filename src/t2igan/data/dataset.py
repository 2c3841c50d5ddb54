"""The shared interface over every format: item i -> (uint8 (3, H, W) image, captions, extras),
and a whole set held as tensors (CaptionedTensors) for training and evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from t2igan.data.decode import FITS, BadImage, decode_image
from t2igan.data.sources import Skipped, Source
from t2igan.errors import UserError


class CaptionedImages(torch.utils.data.Dataset):
    """Map-style dataset over a scanned source, decoding and fitting each image when it is read.

    An unusable image raises BadImage (with .name set), never a crash: `load_into_memory` and
    `prepare_cache` catch it, skip the image and add it to the report.
    """

    def __init__(self, source: Source, size: tuple[int, int] = (64, 64), fit: str = "crop") -> None:
        if fit not in FITS:
            raise UserError(f"--fit must be one of {', '.join(FITS)} (got {fit!r})")
        self.source, self.size, self.fit = source, size, fit

    def __len__(self) -> int:
        return len(self.source.entries)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[str], dict]:
        entry = self.source.entries[index]
        try:
            data = self.source.read(entry.ref)
        except OSError as error:
            raise BadImage(f"unreadable file ({error.strerror or error})", entry.name) from None
        try:
            pixels = decode_image(data, self.size, self.fit)
        except BadImage as error:
            raise BadImage(error.reason, entry.name) from None
        return torch.from_numpy(pixels).permute(2, 0, 1), list(entry.captions), dict(entry.extras)


@dataclass
class CaptionedTensors:
    images: torch.Tensor  # (N, 3, H, W) uint8
    captions: list[list[str]]  # N lists of captions
    attributes: list[dict]  # N dicts of extras, empty where the source has none
    # every caption's sentence vector, flattened in order (caches)
    vectors: torch.Tensor | None = None
    text_encoder: str | None = None  # ... and the encoder that made them
    skipped: list[Skipped] = field(default_factory=list)
