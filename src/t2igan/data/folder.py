"""The project's standard on-disk format: a captioned folder.

    DIR/
      captions.jsonl          one JSON object per image, one per line:
                              {"file": "images/000000.png", "captions": ["a black cat", ...],
                               "attributes": {...}}      (attributes optional)
      images/000000.png ...   any format Pillow reads (PNG, JPEG, WebP...)

It is what a user copies for their own photos: put the images anywhere under DIR and list each
with its captions. Images are decoded to RGB and resized (centre crop to the aspect, then Lanczos)
to the training size when read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from t2igan.errors import UserError

MANIFEST = "captions.jsonl"


def fit_image(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop to the target aspect, resize with Lanczos -> uint8 (H, W, 3)."""
    image = image.convert("RGB")
    width, height = size
    if image.size == size:  # already right: keep the pixels exactly (captioned folders round-trip)
        return np.array(image, dtype=np.uint8)
    scale = min(image.width / width, image.height / height)
    crop_w, crop_h = round(width * scale), round(height * scale)
    left, top = (image.width - crop_w) // 2, (image.height - crop_h) // 2
    image = image.resize(size, Image.Resampling.LANCZOS, box=(left, top, left + crop_w, top + crop_h))
    return np.array(image, dtype=np.uint8)  # a writable copy, as torch.from_numpy wants


class CaptionedFolder(torch.utils.data.Dataset):
    """Map-style dataset over a captioned folder: (uint8 CHW image, captions, attributes)."""

    def __init__(self, root: str | Path, size: tuple[int, int] = (64, 64)) -> None:
        self.root, self.size = Path(root), size
        manifest = self.root / MANIFEST
        if not self.root.is_dir():
            raise UserError(f"data folder {self.root} does not exist")
        if not manifest.is_file():
            raise UserError(f"data folder {self.root} has no {MANIFEST} (the captions); see README: captioned folder")
        self.entries = [entry for entry in _read_manifest(manifest) if entry["captions"]]
        if not self.entries:
            raise UserError(f"{manifest} lists no image with a caption")

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, list[str], dict]:
        entry = self.entries[index]
        path = self.root / entry["file"]
        try:
            with Image.open(path) as image:
                pixels = fit_image(image, self.size)
        except (OSError, ValueError) as error:
            raise UserError(f"cannot read image {path}: {error}") from None
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous(), list(entry["captions"]), dict(entry.get("attributes", {}))


def _read_manifest(path: Path) -> list[dict]:
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            captions = [c.strip() for c in entry["captions"] if isinstance(c, str) and c.strip()]
            entries.append({"file": str(entry["file"]), "captions": captions, "attributes": entry.get("attributes", {})})
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise UserError(f"{path} line {number} is not {{\"file\": ..., \"captions\": [...]}}: {error}") from None
    return entries


def write_captioned_folder(dataset: torch.utils.data.Dataset, out: str | Path, num: int | None = None,
                           progress: bool = True) -> Path:
    """Write the first `num` items of a (image, captions, attributes) dataset as a captioned folder."""
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    num = len(dataset) if num is None else num
    tmp = out / f".{MANIFEST}.tmp"
    with open(tmp, "w", encoding="utf-8") as manifest:
        for index in tqdm(range(num), desc=f"writing {out}", unit="img", disable=not progress):
            image, captions, attributes = dataset[index]
            name = f"images/{index:06d}.png"
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(out / name)
            record = {"file": name, "captions": captions, "attributes": _jsonable(attributes)}
            manifest.write(json.dumps(record) + "\n")
    os.replace(tmp, out / MANIFEST)  # the manifest appears only once every image is on disk
    return out


def _jsonable(attributes: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in attributes.items()}
