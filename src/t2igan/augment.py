"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al., NeurIPS 2020).

With a few thousand images D memorises the training set within a few epochs and G's gradients
turn to noise. DiffAugment transforms every image D sees, real and fake alike, with operations
that gradients pass through, so D cannot memorise and G still learns the un-augmented images.
The policies and ranges are the paper's: color (brightness +-0.5, saturation x[0, 2], contrast
x[0.5, 1.5]), translation (up to 1/8 of the side, zero padded) and cutout (a square of half the
side). Images are in [-1, 1], as in the paper's code.

The trainer applies it (`seen_through`): the discriminators themselves know nothing of it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from t2igan.errors import UserError


def _rand(x: torch.Tensor, rng: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(len(x), *shape, generator=rng, device=rng.device).to(x.dtype)


def color(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    x = x + (_rand(x, rng, 1, 1, 1) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, rng, 1, 1, 1) * 2) + mean  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, rng, 1, 1, 1) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, rng: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio * side pixels; what moves in is zero (mid-grey)."""
    b, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = (_rand(x, rng).float() * (2 * max_dy + 1)).long() - max_dy  # (B,) in [-max, max]
    dx = (_rand(x, rng).float() * (2 * max_dx + 1)).long() - max_dx
    # (B, H) in the padded map
    rows = (torch.arange(h, device=x.device)[None] + dy[:, None] + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device)[None] + dx[:, None] + 1).clamp(0, w + 1)  # (B, W)
    padded = F.pad(x, (1, 1, 1, 1))  # the one-pixel zero border is what clamped indices read
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, rng: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio * side at a random centre of each image."""
    _, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # (B, 1) centre, as in the paper's code
    cy = (_rand(x, rng).float() * (h + 1 - ch % 2)).long()[:, None]
    cx = (_rand(x, rng).float() * (w + 1 - cw % 2)).long()[:, None]
    ys = torch.arange(h, device=x.device)[None]  # (1, H)
    xs = torch.arange(w, device=x.device)[None]
    inside_y = ((ys - cy + ch // 2) >= 0) & ((ys - cy + ch // 2) < ch)  # (B, H)
    inside_x = ((xs - cx + cw // 2) >= 0) & ((xs - cx + cw // 2) < cw)  # (B, W)
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])  # (B, H, W)
    return x * keep[:, None].to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(text: str) -> list[str]:
    """'none' -> []; 'color,translation' -> ['color', 'translation']; UserError on unknown names."""
    if text.strip().lower() in ("", "none"):
        return []
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise UserError(f"--augment {text!r}: unknown {unknown[0]!r}; use none or a comma list of "
                        f"{', '.join(POLICIES)}")
    return names


class DiffAugment(nn.Module):
    """Applies the policy's operations in order; random draws come from its own generator."""

    def __init__(self, policy: str, rng: torch.Generator) -> None:
        super().__init__()
        self.operations = [POLICIES[name] for name in parse_policy(policy)]
        self.rng = rng

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for operation in self.operations:
            x = operation(x, self.rng)
        return x.contiguous(memory_format=torch.channels_last)


class SeenThrough(nn.Module):
    """A discriminator as the objectives see it: every image it judges is augmented first.

    D(image, *rest) -> D(augment(image), *rest). Real and generated images pass the same way, so D
    never sees an un-augmented image, and G's gradient flows back through the augmentation.
    """

    def __init__(self, D: nn.Module, augment: DiffAugment) -> None:
        super().__init__()
        self.D, self.augment = D, augment

    def forward(self, image: torch.Tensor, *args: object, **kwargs: object) -> object:
        return self.D(self.augment(image), *args, **kwargs)


def seen_through(D: nn.Module, policy: str, rng: torch.Generator) -> nn.Module:
    """D itself when the policy is none, else D behind DiffAugment with that policy."""
    return SeenThrough(D, DiffAugment(policy, rng)) if parse_policy(policy) else D
