"""Each step's batch and noise, drawn from the run's saved random generators.

With several processes (t2igan.training.distributed) every process draws the whole global batch's
indices, captions and noise, in the same order from the same generator, and keeps its own slice:
the processes together make exactly the batch one process would, and a run resumes with any number
of processes.
"""

from __future__ import annotations

import torch

from t2igan.images import to_model
from t2igan.models.base import Noise
from t2igan.models.objective import Batch, caption_ids, mismatch
from t2igan.training.distributed import Group


class CaptionTable:
    """Every caption's sentence vector, flat, with each image's slice: (first, count)."""

    def __init__(self, captions: list[list[str]], vectors: torch.Tensor,
                 device: torch.device) -> None:
        self.vectors = vectors.to(device)  # (M, text_dim), the captions flattened in order
        self.ids = caption_ids(vectors).to(device)  # (M,) equal texts, equal ids
        counts = torch.tensor([len(caps) for caps in captions])
        self.count = counts.to(device)
        self.first = (torch.cumsum(counts, 0) - counts).to(device)

    def sample(self, images: torch.Tensor,
               rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One random caption per image index (B,): its vector (B, text_dim) and its id (B,)."""
        pick = (torch.rand(len(images), generator=rng, device=rng.device)
                * self.count[images]).long()
        caption = self.first[images] + pick
        return self.vectors[caption], self.ids[caption]


class Batches:
    """Random batches of (image, one of its captions, its class) with replacement."""

    def __init__(self, images: torch.Tensor, table: CaptionTable, labels: torch.Tensor | None,
                 batch_size: int, rng: torch.Generator, group: Group,
                 mismatches: int = 1) -> None:
        # images: uint8 (N, 3, H, W) on the CPU (a memory map for caches); batches go to the device
        self.images, self.table, self.labels = images, table, labels
        self.batch_size, self.rng, self.group = batch_size, rng, group
        self.mismatches = mismatches  # other captions per image for D's matching-aware term

    def __call__(self, step: int = 0) -> Batch:
        index = torch.randint(len(self.images), (self.batch_size,), generator=self.rng,
                              device=self.rng.device)
        text, captions = self.table.sample(index, self.rng)  # (B, text_dim), (B,)
        mine = self.group.share(self.batch_size)
        # the other captions picked in the global batch, each block cut to this process's slice
        mismatched = mismatch(text, self.mismatches, captions).unflatten(0, (self.mismatches, -1))
        index, text, captions = index[mine], text[mine], captions[mine]
        mismatched = mismatched[:, mine].flatten(0, 1)
        images = self.images[index.cpu()].to(self.rng.device, non_blocking=True)
        real = to_model(images).contiguous(memory_format=torch.channels_last)  # (b, 3, H, W)
        labels = None if self.labels is None else self.labels[index]
        return Batch(real, text, labels, mismatched, step, captions=captions)


class SharedNoise(Noise):
    """This process's slice of the noise all processes draw together (all of it with one)."""

    def __init__(self, dim: int, rng: torch.Generator, group: Group) -> None:
        super().__init__(dim, rng)
        self.group = group

    def __call__(self, n: int, truncation: float | None = None) -> torch.Tensor:
        everyone = super().__call__(n * self.group.world, truncation)
        return everyone[self.group.share(len(everyone))]
