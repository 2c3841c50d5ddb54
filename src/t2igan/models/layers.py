"""Building blocks shared by the models."""

from __future__ import annotations

import math

from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv weights N(0, 0.02), BN scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def text_projection(text_dim: int, code_dim: int) -> nn.Sequential:
    """Sentence vector -> small text code: Linear + leaky ReLU, as in Reed et al. 2016."""
    return nn.Sequential(nn.Linear(text_dim, code_dim), nn.LeakyReLU(0.2, inplace=True))


def doublings(size: int, start: int = 4) -> int:
    """How many x2 steps lead from `start` to `size` pixels (size must be start * 2^k)."""
    steps = int(round(math.log2(size / start)))
    if steps < 1 or start * 2**steps != size:
        raise ValueError(f"{size} is not {start} times a power of two")
    return steps


def base_grid(size: tuple[int, int]) -> tuple[int, int, int]:
    """(width, height) -> (w0, h0, steps): the smallest feature grid and the x2 steps to the image.

    Square images grow from 4x4; 4:3 images (LSUN Car's 512x384) from 4 wide by 3 high.
    """
    width, height = size
    if width == height:
        w0, h0 = 4, 4
    elif width * 3 == height * 4:
        w0, h0 = 4, 3
    else:
        raise ValueError(f"{width}x{height} is neither square nor 4:3")
    steps = doublings(width, w0)
    if h0 * 2**steps != height:
        raise ValueError(f"{width}x{height} is not {w0}x{h0} times a power of two")
    return w0, h0, steps
