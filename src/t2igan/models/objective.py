"""What every model's objective sees, and the matching-aware judging they share.

An objective is an object with two methods the trainer calls once per step:

    discriminator_loss(G, D, batch, noise) -> (loss, stats)   D's phase (G's output detached)
    generator_loss(G, D, batch, noise)     -> (loss, stats)   G's phase (D frozen by the trainer)

`noise(n)` draws (n, G.noise_dim) noise from the trainer's generator; D is the discriminator as the
trainer presents it (behind DiffAugment when --augment is on). A new method is a new module with a
G, a D and an objective; the loop never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from t2igan.models.base import Judgement


@dataclass
class Batch:
    real: torch.Tensor  # (B, 3, H, W) real images in [-1, 1]
    text: torch.Tensor  # (B, text_dim) one caption's sentence vector per image
    # (B,) class indices, for models with an auxiliary classifier
    labels: torch.Tensor | None = None


def mismatch(text: torch.Tensor) -> torch.Tensor:
    """Another image's caption for every image: the batch's texts rolled by one."""
    return text.roll(1, 0)


def judge_matching(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, text: torch.Tensor,
                   mismatched: torch.Tensor | None = None,
                   labels: torch.Tensor | None = None) -> tuple[Judgement, Judgement]:
    """D's verdicts for the matching-aware loss (GAN-CLS, Reed et al. 2016): real images with their
    own text and with a mismatched one (default: `mismatch(text)`), generated images with their
    text.

    The mismatched pair, judged fake, is what forces D to read the text: a real-vs-fake D alone can
    ignore it."""
    real_judged = D(real, text, mismatch(text) if mismatched is None else mismatched, labels)
    return real_judged, D(fake, text, labels=labels)


def stats(**values: torch.Tensor) -> dict[str, float]:
    """Means of logged tensors as floats, for the progress bar and log.jsonl."""
    return {name: value.detach().float().mean().item() for name, value in values.items()}
