"""R-precision (Xu et al. 2018, AttnGAN; DM-GAN's protocol): does an image retrieve its own caption?

Each generated image is ranked, by cosine similarity of DAMSM codes, against its own caption and
99 mismatched ones drawn at random from the other captions; it scores 1 when its own caption ranks
first (R = 1 relevant caption among the top 1). Mean and std over splits of the images. A perfect
encoder-and-generator scores 1; an image that says nothing about its text scores about 1/100.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def _mismatched(caption_ids: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """(N, count) row indices whose caption differs from row i's (redrawn until none collide)."""
    n = len(caption_ids)
    picks = torch.randint(n, (n, count), generator=generator)
    for _ in range(100):
        clash = caption_ids[picks] == caption_ids[:, None]
        if not clash.any():
            return picks
        picks[clash] = torch.randint(n, (int(clash.sum()),), generator=generator)
    raise ValueError("R-precision needs more distinct captions than the images share (found too "
                     "few mismatches)")


def r_precision(image_codes: torch.Tensor, text_codes: torch.Tensor,
                caption_ids: torch.Tensor | None = None, candidates: int = 100, splits: int = 10,
                seed: int = 0) -> dict[str, float]:
    """image_codes (N, D) of generated images, text_codes (N, D) of the captions they were made
    from, caption_ids (N,) equal where two rows share a caption (default: all distinct)."""
    n = len(image_codes)
    if n < splits:
        raise ValueError(f"R-precision needs at least {splits} images for {splits} splits, got {n}")
    caption_ids = torch.arange(n) if caption_ids is None else caption_ids
    generator = torch.Generator().manual_seed(seed)
    others = _mismatched(caption_ids, candidates - 1, generator)  # (N, 99)
    rows = torch.cat([torch.arange(n)[:, None], others], dim=1)  # (N, 100): own caption first
    images = F.normalize(image_codes.double(), dim=1)
    texts = F.normalize(text_codes.double(), dim=1)
    similarity = torch.einsum("nd,nkd->nk", images, texts[rows])  # (N, 100)
    # Strictly greater: a tie with a mismatched caption is not a hit (a constant encoder scores 0,
    # not 1).
    hit = (similarity[:, :1] > similarity[:, 1:]).all(dim=1).double()
    scores = [part.mean().item() for part in hit.tensor_split(splits)]
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores))}
