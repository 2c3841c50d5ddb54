"""A diversity figure: how different are the images one caption makes with different noise?

Mean root-mean-square pixel distance (pixels in [0, 1]) between images generated for the same
caption, beside the same figure between images of different captions. Near 0 within captions
means G ignores its noise (mode collapse); the between-caption figure gives the scale. A pixel
distance, not a perceptual one: MS-SSIM arrives with the metrics suite.
"""

from __future__ import annotations

import torch


def pairwise_rms(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> (N, N) RMS distances of the pixels in [0, 1]."""
    flat = images.flatten(1).double() / 255
    return torch.cdist(flat, flat) / flat.shape[1] ** 0.5


def diversity(images: torch.Tensor, per_caption: int) -> dict[str, float]:
    """Images ordered caption-major (`per_caption` consecutive images per caption)."""
    groups = torch.arange(len(images)) // per_caption
    distance = pairwise_rms(images)
    same = groups[:, None] == groups[None, :]
    off_diagonal = ~torch.eye(len(images), dtype=torch.bool)
    return {"within_caption": round(distance[same & off_diagonal].mean().item(), 4),
            "between_captions": round(distance[~same].mean().item(), 4)}
