"""Datasets opened by name and held in memory as tensors for training.

At the sizes this toolkit trains on a CPU (thousands of images, 64 px), the whole training set fits
in memory as uint8: a batch is then one indexing operation, with no loader in the hot loop. A
prepared cache is not even read: its images are a memory map the batches index directly.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import torch
from tqdm import tqdm

from t2igan.data.cache import CachedImages, is_cache
from t2igan.data.dataset import CaptionedImages, CaptionedTensors
from t2igan.data.decode import BadImage
from t2igan.data.sources import Skipped, SourceOptions, open_source
from t2igan.errors import UserError

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def open_dataset(spec: str, size: tuple[int, int], split: str = "train", seed: int = 0,
                 options: SourceOptions | None = None,
                 fit: str = "crop") -> torch.utils.data.Dataset:
    """'synthetic' -> the procedural cats & cars; a prepared cache; else any supported format."""
    if spec == "synthetic":
        from t2igan.data.synthetic import SyntheticCaptions

        return SyntheticCaptions(split=split, size=size, seed=seed)
    if is_cache(Path(spec)):
        return CachedImages(spec, split, size)
    return CaptionedImages(open_source(spec, options), size, fit)


class _Tolerant(torch.utils.data.Dataset):
    """Item i, or a Skipped for an unusable image, so one bad file never stops a load."""

    def __init__(self, dataset: torch.utils.data.Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple | Skipped:
        """The image travels as a numpy array: pickled through the worker's pipe, not shared by
        passing file descriptors, whose server thread prints a traceback when a signal ends the
        workers."""
        try:
            image, captions, extras = self.dataset[index]
        except BadImage as error:
            return Skipped(error.name, error.reason)
        return image.numpy(), captions, extras


def _die_with_parent(parent: int, _worker_id: int) -> None:
    """Ask Linux to kill this worker when the process that started it dies, however it dies
    (kill -9 included); otherwise a worker outlives it until torch's watchdog notices."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the request was in place
            os._exit(1)


def usable_items(dataset: torch.utils.data.Dataset, skipped: list[Skipped],
                 workers: int = 2) -> Iterator[tuple[int, tuple]]:
    """(index, (image, captions, extras)) of each usable item, in order, decoded by a few worker
    processes; each unusable one is appended to `skipped` instead."""
    loader = torch.utils.data.DataLoader(_Tolerant(dataset), batch_size=64, collate_fn=list,
                                         num_workers=workers if len(dataset) > 512 else 0,
                                         worker_init_fn=partial(_die_with_parent, os.getpid()))
    index = 0
    for batch in loader:
        for item in batch:
            if isinstance(item, Skipped):
                skipped.append(item)
            else:
                image, captions, extras = item
                yield index, (torch.from_numpy(image), captions, extras)
            index += 1


def load_into_memory(dataset: torch.utils.data.Dataset, limit: int | None = None,
                     progress: bool = True, workers: int | None = None) -> CaptionedTensors:
    """Read the first `limit` usable items (all if None) with a few worker processes."""
    if isinstance(dataset, CachedImages):
        return dataset.tensors(limit)
    count = len(dataset) if limit is None else min(limit, len(dataset))
    if workers is None:  # worker processes pay for themselves only on a few hundred images
        workers = min(2, os.cpu_count() or 1) if count > 512 else 0
    images, captions, attributes = [], [], []
    # found by the scan
    skipped = list(dataset.source.skipped) if isinstance(dataset, CaptionedImages) else []
    with tqdm(total=count, desc="loading images", unit="img", disable=not progress) as bar:
        # bad ones leave no gap
        for _, (image, caps, extras) in usable_items(dataset, skipped, workers):
            images.append(image)
            captions.append(caps)
            attributes.append(extras)
            bar.update(1)
            if len(images) == count:
                break
    if not images:
        raise UserError(f"no usable image: all {len(skipped)} read were bad (first: "
                        f"{skipped[0].name}: {skipped[0].reason}); run `t2igan data check` on "
                        "the data")
    return CaptionedTensors(torch.stack(images), captions, attributes, skipped=skipped)


def class_labels(attributes: list[dict], label: str) -> tuple[list[str], torch.Tensor]:
    """Each image's class from its attributes: `label` names them, joined by '+' (e.g.
    'subject+color').

    Returns the sorted class names and a (N,) tensor of class indices.
    """
    names = [name.strip() for name in label.split("+") if name.strip()]
    if not names:
        raise UserError(f"--label {label!r} names no attribute")
    keys = []
    for index, attrs in enumerate(attributes):
        missing = [name for name in names if name not in attrs]
        if missing:
            raise UserError(f"this model needs a class label for every image, but image {index} "
                            f"has no {missing[0]!r} attribute; choose attributes it has with "
                            "--label NAME[+NAME]")
        keys.append("+".join(str(attrs[name]) for name in names))
    classes = sorted(set(keys))
    lookup = {name: i for i, name in enumerate(classes)}
    return classes, torch.tensor([lookup[key] for key in keys])
