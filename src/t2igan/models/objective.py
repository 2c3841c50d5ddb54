"""What every model's objective sees: one batch, and the noise its generator wants.

An objective is an object with two methods the trainer calls once per step:

    discriminator_loss(G, D, batch, rng) -> (loss, stats)   D's phase (G's output detached)
    generator_loss(G, D, batch, rng)     -> (loss, stats)   G's phase (D frozen by the trainer)

so a new method is a new module with a G, a D and an objective; the loop never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Batch:
    real: torch.Tensor  # (B, 3, H, W) real images in [-1, 1]
    text: torch.Tensor  # (B, text_dim) one caption's sentence vector per image
    labels: torch.Tensor | None = None  # (B,) class indices, for models with an auxiliary classifier


def noise(G: nn.Module, n: int, rng: torch.Generator) -> torch.Tensor:
    """(n, G.noise_dim) standard normal noise, on the generator's device, from `rng`."""
    return torch.randn(n, G.noise_dim, generator=rng, device=rng.device)


def stats(**values: torch.Tensor) -> dict[str, float]:
    """Means of logged tensors as floats, for the progress bar and log.jsonl."""
    return {name: value.detach().float().mean().item() for name, value in values.items()}
