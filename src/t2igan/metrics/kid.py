"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD^2 with a cubic polynomial kernel.

k(x, y) = (x.y / D + 1)^3, estimated on `subsets` random subsets of `subset_size` from each set;
mean and std over subsets. Unlike FID it is unbiased, so it is about 0 for two samples of one
distribution at any sample size; the subset draws follow torch-fidelity's, so the same features
and seed give its number.
"""

from __future__ import annotations

import numpy as np
import torch


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    # diagonals left out
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2 * k_xy.sum() / (m * m))


def kid(features_a: torch.Tensor | np.ndarray, features_b: torch.Tensor | np.ndarray,
        subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """{"mean", "std", "subset_size"} of MMD^2 between two (N, D) feature sets; the subset size
    shrinks to the smaller set when a set has fewer than `subset_size` samples."""
    a, b = np.asarray(features_a, dtype=np.float64), np.asarray(features_b, dtype=np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.RandomState(seed)
    mmds = []
    for _ in range(subsets):
        pick_a = a[rng.choice(len(a), size, replace=False)]
        pick_b = b[rng.choice(len(b), size, replace=False)]
        mmds.append(_unbiased_mmd2(pick_a, pick_b))
    return {"mean": float(np.mean(mmds)), "std": float(np.std(mmds)), "subset_size": size}
