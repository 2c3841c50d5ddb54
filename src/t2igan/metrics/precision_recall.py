"""Improved precision and recall (Kynkäänniemi et al. 2019), as stylegan's metrics compute them.

Each set's manifold is the union of balls around its feature vectors, each ball's radius the
distance to that vector's k-th nearest neighbour in the same set (k = 3). Precision is the share of
generated vectors inside the real manifold (fidelity: are the images like real ones?); recall is
the share of real vectors inside the generated manifold (variety: is all of the real data made?).
A collapsed generator keeps precision and loses recall. stylegan measures them in VGG16 features;
t2igan uses the Inception pool features of its FID, so one network serves every metric.
"""

from __future__ import annotations

import numpy as np
import torch

NEIGHBOURHOOD = 3  # k, the paper's and stylegan's default
ROWS = 1024  # distance rows per step: 1024 x 10,000 float32 distances is 40 MB


def _radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Each vector's distance to its k-th nearest neighbour in the same set (itself excluded)."""
    return torch.cat([torch.cdist(features[i:i + ROWS], features).kthvalue(k + 1, dim=1).values
                      for i in range(0, len(features), ROWS)])


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Whether each point lies within some centre's ball."""
    return torch.cat([(torch.cdist(points[i:i + ROWS], centres) <= radii).any(dim=1)
                      for i in range(0, len(points), ROWS)])


def precision_recall(real: np.ndarray | torch.Tensor, generated: np.ndarray | torch.Tensor,
                     k: int = NEIGHBOURHOOD) -> dict[str, float]:
    """{"precision", "recall"} of (N, D) generated against (M, D) real feature vectors."""
    real_t = torch.as_tensor(np.asarray(real), dtype=torch.float32)
    generated_t = torch.as_tensor(np.asarray(generated), dtype=torch.float32)
    if min(len(real_t), len(generated_t)) <= k:
        raise ValueError(f"precision and recall need more than k={k} vectors in each set")
    precision = _inside(generated_t, real_t, _radii(real_t, k)).float().mean()
    recall = _inside(real_t, generated_t, _radii(generated_t, k)).float().mean()
    return {"precision": precision.item(), "recall": recall.item()}
