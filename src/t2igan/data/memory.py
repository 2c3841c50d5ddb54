"""Datasets opened by name and held in memory as tensors for training.

At the sizes this toolkit trains on a CPU (thousands of images, 64 px), the whole training set fits
in memory as uint8: a batch is then one indexing operation, with no loader in the hot loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from t2igan.errors import UserError


@dataclass
class CaptionedTensors:
    images: torch.Tensor  # (N, 3, H, W) uint8
    captions: list[list[str]]  # N lists of captions
    attributes: list[dict]  # N dicts, empty where the source has none


def open_dataset(spec: str, size: tuple[int, int], split: str = "train", seed: int = 0) -> torch.utils.data.Dataset:
    """'synthetic' -> the procedural cats & cars; a folder path -> a captioned folder."""
    if spec == "synthetic":
        from t2igan.data.synthetic import SyntheticCaptions

        return SyntheticCaptions(split=split, size=size, seed=seed)
    from t2igan.data.folder import CaptionedFolder

    if not Path(spec).exists():
        raise UserError(f"--data {spec!r} is neither 'synthetic' nor an existing folder")
    return CaptionedFolder(spec, size)


def _as_lists(batch: list) -> tuple[torch.Tensor, list, list]:
    images, captions, attributes = zip(*batch)
    return torch.stack(images), list(captions), list(attributes)


def load_into_memory(dataset: torch.utils.data.Dataset, limit: int | None = None, progress: bool = True,
                     workers: int | None = None) -> CaptionedTensors:
    """Read the first `limit` items (all if None) with a few worker processes."""
    count = len(dataset) if limit is None else min(limit, len(dataset))
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(count)), batch_size=256,
                                         num_workers=workers if count > 512 else 0, collate_fn=_as_lists)
    images, captions, attributes = [], [], []
    with tqdm(total=count, desc="loading images", unit="img", disable=not progress) as bar:
        for batch_images, batch_captions, batch_attributes in loader:
            images.append(batch_images)
            captions += batch_captions
            attributes += batch_attributes
            bar.update(len(batch_images))
    return CaptionedTensors(torch.cat(images), captions, attributes)


def class_labels(attributes: list[dict], label: str) -> tuple[list[str], torch.Tensor]:
    """Each image's class from its attributes: `label` names them, joined by '+' (e.g. 'subject+color').

    Returns the sorted class names and a (N,) tensor of class indices.
    """
    names = [name.strip() for name in label.split("+") if name.strip()]
    if not names:
        raise UserError(f"--label {label!r} names no attribute")
    keys = []
    for index, attrs in enumerate(attributes):
        missing = [name for name in names if name not in attrs]
        if missing:
            raise UserError(f"this model needs a class label for every image, but image {index} has no "
                            f"{missing[0]!r} attribute; choose attributes it has with --label NAME[+NAME]")
        keys.append("+".join(str(attrs[name]) for name in names))
    classes = sorted(set(keys))
    lookup = {name: i for i, name in enumerate(classes)}
    return classes, torch.tensor([lookup[key] for key in keys])
