"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))), mean and std over splits.

High when each image is confidently one class (sharp p(y|x)) and the classes are many and
balanced (flat p(y)). For C confident, balanced classes it is C; for predictions that say nothing
(uniform) it is 1. As in the papers and torch-fidelity: 10 splits, samples shuffled first so a
split is not one caption's images.
"""

from __future__ import annotations

import numpy as np
import torch


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0) -> dict[str, float]:
    """(N, C) classifier logits -> {"mean", "std"} over `splits` equal parts."""
    n = len(logits)
    if n < splits:
        raise ValueError(f"the Inception Score needs at least {splits} samples for {splits} "
                         f"splits, got {n}")
    order = torch.from_numpy(np.random.RandomState(seed).permutation(n))
    logits = logits[order].double()
    p, log_p = logits.softmax(dim=1), logits.log_softmax(dim=1)  # (N, C)
    scores = []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        marginal = p[part].mean(dim=0, keepdim=True)  # (1, C): p(y) over the split
        kl = (p[part] * (log_p[part] - marginal.log())).sum(dim=1)  # (n/splits,)
        scores.append(kl.mean().exp().item())
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores))}
