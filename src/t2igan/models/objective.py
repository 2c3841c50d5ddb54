"""What every model's objective sees, and the matching-aware judging they share.

An objective is an object with three methods the trainer calls once per step, in this order:

    generate(G, batch, noise) -> Generated           G's images for the batch, with G's graph
    discriminator_loss(D, batch, generated) -> (loss, stats)      D's phase (the images detached)
    generator_loss(G, D, batch, generated, noise) -> (loss, stats)  G's phase (D frozen)

G runs once per step, and both phases share its images, as DF-GAN's official step does: D learns
from them detached, then G backpropagates through the same images judged by the updated D. That
saves one G forward pass per step (measured: 12% of a DF-GAN step). An objective that needs more
images in G's phase (GAN-INT's interpolated captions) calls G there itself.

`noise(n)` draws (n, G.noise_dim) noise from the trainer's generator; D is the discriminator as the
trainer presents it (behind DiffAugment when --augment is on). Stats are detached scalar tensors:
the trainer turns them into numbers only when it logs (a .item() per step would stall a GPU). A
new method is a new module with a G, a D and an objective; the loop never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from t2igan import losses
from t2igan.models.base import Judgement, tile


@dataclass
class Batch:
    real: torch.Tensor  # (B, 3, H, W) real images in [-1, 1]
    text: torch.Tensor  # (B, text_dim) one caption's sentence vector per image
    # (B,) class indices, for models with an auxiliary classifier
    labels: torch.Tensor | None = None
    # (K * B, text_dim) K other images' captions for every image, one block of B after another
    # (default: `mismatch(text)`, K = 1); the trainer gives each process its slice of the whole
    # batch's, so that N processes pair the captions exactly as one would
    mismatched: torch.Tensor | None = None
    step: int = 0  # the training step this batch is for: lazy regularisers run every N steps
    # (K * B,) which mismatched captions really differ from the image's own (set from the two)
    differs: torch.Tensor | None = None
    # (B,) an id per distinct caption (default: `caption_ids(text)`; the trainer passes its table's)
    captions: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.captions is None:
            self.captions = caption_ids(self.text)
        if self.mismatched is None:
            self.mismatched = mismatch(self.text, 1, self.captions)
        if self.differs is None:
            self.differs = differing(self.text, self.mismatched)


@dataclass
class Generated:
    """One step's generated images and what D reads with them."""

    images: torch.Tensor  # (B, 3, H, W) in [-1, 1], still attached to G's graph
    condition: torch.Tensor  # (B, C) the sentence vectors, or the code G made of them (StackGAN)
    logvar: torch.Tensor | None = None  # StackGAN's conditioning augmentation, for its KL term


class Objective:
    """The part every objective shares: G's one pass per step on the batch's own captions."""

    def generate(self, G: nn.Module, batch: Batch, noise: Callable[[int], torch.Tensor]
                 ) -> Generated:
        return Generated(G(noise(len(batch.text)), batch.text), batch.text)


def caption_ids(text: torch.Tensor) -> torch.Tensor:
    """(N,) an id per distinct row of `text` (N, dim): equal captions have equal sentence vectors,
    since the encoder's store is keyed by the text. The trainer finds them once, for its whole
    caption table: on a GPU this call waits for the device (its output size depends on data)."""
    return torch.unique(text, dim=0, return_inverse=True)[1]


def mismatch(text: torch.Tensor, count: int = 1,
             captions: torch.Tensor | None = None) -> torch.Tensor:
    """`count` other captions for every image, (count * B, text_dim): for image i and k = 1 ...
    count, the k-th caption before it in the batch (cyclically) that differs from its own.

    With all captions distinct that is the batch rolled by 1, 2, ..., count (DF-GAN's pairing).
    Picking the nearest that differs matters on data with few captions: with one caption per
    class (cat breeds), a plain roll hands an image its own caption as the "mismatched" one for
    every neighbour of its class, and with one caption for all (a folder of cats) for every image,
    telling D that a real image with its own text is fake. Where fewer than k captions differ, the
    k-th roll stands in, and `differing` marks it for the losses to leave out. `captions`: the
    texts' `caption_ids`, found from `text` when not given."""
    n = len(text)
    caption = caption_ids(text) if captions is None else captions
    rows = torch.arange(n, device=text.device)
    earlier = (rows[:, None] - rows[None, 1:]) % n  # (B, B - 1): 1, 2, ... places back
    differs = caption[earlier] != caption[:, None]
    rank = differs.cumsum(1)  # how many differing captions up to each place back
    picks = []
    for k in range(1, count + 1):
        kth = differs & (rank == k)
        back = torch.where(kth.any(1), kth.int().argmax(1), k - 1)  # else the k-th roll
        picks.append(earlier[rows, back])
    return text[torch.cat(picks)]


def differing(text: torch.Tensor, mismatched: torch.Tensor) -> torch.Tensor:
    """(K * B,) bool: whether each mismatched caption (or condition code) differs from the one
    of the image it is paired with."""
    return (mismatched != tile(text, mismatched)).any(1)


def judge_matching(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, text: torch.Tensor,
                   mismatched: torch.Tensor,
                   labels: torch.Tensor | None = None) -> tuple[Judgement, Judgement]:
    """D's verdicts for the matching-aware loss (GAN-CLS, Reed et al. 2016): real images with their
    own text and with a mismatched one, generated images with their text.

    The mismatched pair, judged fake, is what forces D to read the text: a real-vs-fake D alone can
    ignore it."""
    real_judged = D(real, text, mismatched, labels)
    return real_judged, D(fake, text, labels=labels)


def class_loss(judged: Judgement, labels: torch.Tensor) -> torch.Tensor:
    """The auxiliary classifier's loss on one verdict: cross-entropy of the class logits (AC-GAN,
    TAC-GAN), or ReACGAN's D2D-CE when D gave an embedding and its classes' proxies."""
    if judged.proxies is None:
        return losses.auxiliary_class_loss(judged.classes, labels)
    return losses.data_to_data_cross_entropy(judged.classes, judged.proxies, labels)


def d_class_loss(real: Judgement, fake: Judgement, labels: torch.Tensor) -> torch.Tensor:
    """D's class term: on real images, and on G's images labelled with their caption's class as
    AC-GAN does; D2D-CE learns from real images only (ReACGAN)."""
    loss = class_loss(real, labels)
    return loss if real.proxies is not None else loss + class_loss(fake, labels)


def stats(**values: torch.Tensor) -> dict[str, torch.Tensor]:
    """Means of logged tensors, detached, for the progress bar and log.jsonl."""
    return {name: value.detach().float().mean() for name, value in values.items()}
