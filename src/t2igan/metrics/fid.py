"""Fréchet distance between two feature sets (FID when the features are Inception's pool3).

Heusel et al. 2017: fit a Gaussian to each set of features and take
    ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2)).
Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2, which are real and
non-negative (S1 S2 is similar to a PSD matrix); summing them avoids scipy's sqrtm, whose result
picks up imaginary noise on the near-singular covariances of small sample sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from t2igan.errors import UserError


@dataclass
class Gaussian:
    mean: np.ndarray  # (D,) float64
    cov: np.ndarray  # (D, D) float64


def fit_gaussian(features: torch.Tensor | np.ndarray) -> Gaussian:
    """(N, D) features -> their mean and unbiased covariance, in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"need at least 2 feature vectors of shape (N, D), got {x.shape}")
    return Gaussian(x.mean(axis=0), np.cov(x, rowvar=False))


def frechet_distance(a: Gaussian, b: Gaussian) -> float:
    diff = a.mean - b.mean
    eigenvalues = np.linalg.eigvals(a.cov @ b.cov).astype(np.complex128)
    trace_sqrt = np.sqrt(eigenvalues).real.sum()
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt)


def load_gaussian(path: str | Path) -> Gaussian:
    """Published reference statistics: an .npz with `mu` (D,) and `sigma` (D, D), the layout of
    pytorch-fid, DF-GAN's released files and t2igan's own reference cache."""
    try:
        with np.load(path) as stored:
            mean, cov = stored["mu"].astype(np.float64), stored["sigma"].astype(np.float64)
    except (OSError, ValueError, KeyError) as error:
        raise UserError(f"--reference-stats {path}: not an .npz with mu and sigma "
                        f"({str(error).splitlines()[0]})") from None
    if mean.ndim != 1 or cov.shape != (len(mean), len(mean)):
        raise UserError(f"--reference-stats {path}: mu {mean.shape} and sigma {cov.shape} do not "
                        "fit together")
    return Gaussian(mean, cov)


def fid(features_a: torch.Tensor | np.ndarray, features_b: torch.Tensor | np.ndarray) -> float:
    """Fréchet distance of two (N, D) feature sets."""
    return frechet_distance(fit_gaussian(features_a), fit_gaussian(features_b))
