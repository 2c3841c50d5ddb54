"""A prepared cache: images decoded once to a memory-mapped uint8 array, captions, their vectors.

    CACHE/cache.json         what made it (source, format, size, fit, split, encoder) and counts;
                             written last, so a cache without it is incomplete and never read
    CACHE/images.u8          N x H x W x 3 uint8, raw: training images first, then validation
    CACHE/items.jsonl        per image, in the same order: name, captions, extras, split
    CACHE/text-ENCODER.safetensors   every caption's sentence vector, flattened in item order
    CACHE/report.jsonl       every file skipped, and why

`t2igan data prepare` writes it (t2igan.data.prepare); `--data CACHE` trains from it. A split is
a contiguous slice of the map, so training indexes the file through the page cache and never
decodes or copies the whole set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from t2igan.data.dataset import CaptionedTensors
from t2igan.errors import UserError

MANIFEST = "cache.json"
IMAGES = "images.u8"
ITEMS = "items.jsonl"
REPORT = "report.jsonl"
SPLITS = ("train", "val", "all")


def is_cache(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def vectors_file(encoder: str) -> str:
    return f"text-{encoder}.safetensors"


class CachedImages(torch.utils.data.Dataset):
    """One split of a prepared cache: item i -> (uint8 (3, H, W) view of the map, captions,
    extras)."""

    def __init__(self, path: str | Path, split: str = "train",
                 size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        self.info = json.loads((self.path / MANIFEST).read_text())
        width, height = self.info["size"]
        if size is not None and tuple(size) != (width, height):
            raise UserError(f"cache {self.path} holds {width}x{height} images; train with "
                            f"--image-size {width}x{height} or prepare another cache with "
                            f"--size {size[0]}x{size[1]}")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}")
        count = self.info["count"]
        # Mode "c" (copy on write) gives a writable array, as torch.from_numpy wants; nothing is
        # written back.
        pixels = np.memmap(self.path / IMAGES, dtype=np.uint8, mode="c",
                           shape=(count, height, width, 3))
        first, stop = {"train": (0, self.info["train"]), "val": (self.info["train"], count),
                       "all": (0, count)}[split]
        # (N, 3, H, W), channels-last strides
        self.images = torch.from_numpy(pixels).permute(0, 3, 1, 2)[first:stop]
        every = [json.loads(line)
                 for line in (self.path / ITEMS).read_text(encoding="utf-8").splitlines()]
        self.items = every[first:stop]
        # row of the first vector
        self.caption_start = sum(len(item["captions"]) for item in every[:first])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[str], dict]:
        item = self.items[index]
        return self.images[index], list(item["captions"]), dict(item["extras"])

    def tensors(self, limit: int | None = None) -> CaptionedTensors:
        """The split as tensors without copying the images; caption vectors where the cache has
        them."""
        count = len(self) if limit is None else min(limit, len(self))
        captions = [item["captions"] for item in self.items[:count]]
        encoder = self.info.get("text_encoder")
        vectors = None
        if encoder and (self.path / vectors_file(encoder)).is_file():
            every = load_file(self.path / vectors_file(encoder))["vectors"]
            vectors = every[self.caption_start:self.caption_start + sum(len(c) for c in captions)]
        return CaptionedTensors(self.images[:count], captions,
                                [item["extras"] for item in self.items[:count]], vectors, encoder)
