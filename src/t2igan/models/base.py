"""The model contract: what the trainer, the objectives and sampling rely on in G and D.

Every model of the zoo subclasses these two, and every use goes through forward(), so a wrapper
(DiffAugment in front of D, DistributedDataParallel around either) sees each call:

    G(z, text) -> images             z: (B, G.noise_dim) noise; text: (B, text_dim) sentence
                                     vectors; images: (B, 3, H, W) in [-1, 1]
    D(images, text, mismatched=None, labels=None) -> Judgement
                                     logits for each image with its text; with `mismatched`, also
                                     with other captions (the matching-aware term: K * B of them,
                                     K per image, B by B; `tile` pairs the image features
                                     with them); with `labels`, what a model with a class head
                                     says about the class

A network may hold frozen parts (StackGAN II's stage I; a pretrained backbone): their parameters
have requires_grad False, and the trainer never turns it back on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


class Generator(nn.Module):
    """Noise and sentence vectors -> images in [-1, 1]."""

    noise_dim: int  # the size of z: set by every generator's constructor

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class Judgement:
    """What D says about one batch of images: logits, one per image, for each question asked."""

    # (B,) the image with its own text (or condition code); (B, N) for a D that judges N patches
    # per image (the projected D): every loss averages over all of them
    logits: torch.Tensor
    # (K * B,) the same images with K other captions each, block after block, when asked
    mismatched: torch.Tensor | None = None
    unconditional: torch.Tensor | None = None  # (B,) real or fake, text aside (StackGAN stage II)
    classes: torch.Tensor | None = None  # (B, C) class logits or (B, E) class embedding (TAC-GAN)
    # (B, E) the embedding of each label's class (ReACGAN's D2D-CE)
    proxies: torch.Tensor | None = None


def tile(features: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """Image features (B, ...) repeated to be judged with `texts` (K * B, text_dim): the tower
    runs once however many mismatched captions each image is judged with."""
    repeats = len(texts) // len(features)
    return features if repeats == 1 else torch.cat([features] * repeats)


def judge_others(judge: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 features: torch.Tensor, mismatched: torch.Tensor | None) -> torch.Tensor | None:
    """`judge(features, text)` of each image's features with its mismatched captions, if any."""
    return None if mismatched is None else judge(tile(features, mismatched), mismatched)


class Discriminator(nn.Module):
    """Images and sentence vectors -> a Judgement."""

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                mismatched: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> Judgement:
        raise NotImplementedError


class Noise:
    """(n, dim) standard normal noise from one random generator, on that generator's device.

    The trainer draws G's noise from its saved generator; sampling from a generator seeded by the
    user's seed, so the same seed makes the same images. With truncation T every value lies in
    [-T, T], values beyond being redrawn (the truncation trick: Brock et al. 2019; DF-GAN's
    sampling), which trades variety for fidelity as T shrinks.
    """

    def __init__(self, dim: int, rng: torch.Generator) -> None:
        self.dim, self.rng = dim, rng

    def __call__(self, n: int, truncation: float | None = None) -> torch.Tensor:
        if truncation is None:
            return torch.randn(n, self.dim, generator=self.rng, device=self.rng.device)
        empty = torch.empty(n, self.dim, device=self.rng.device)
        return nn.init.trunc_normal_(empty, a=-truncation, b=truncation, generator=self.rng)
