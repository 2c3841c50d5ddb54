"""MS-SSIM, and the sample-diversity figure AC-GAN and TAC-GAN report with it.

AC-GAN (Odena et al. 2017) and TAC-GAN (Dash et al. 2017) measure how diverse a generator's
samples are as the mean multi-scale SSIM over random pairs of images of the same class: lower is
more diverse, and the same figure for real images gives the scale. Their numbers came from the
numpy `msssim.py` of tensorflow/models (research/compression); this is a vectorised torch version
of the same definition, so the figures are comparable:

- 5 scales weighted (0.0448, 0.2856, 0.3001, 0.2363, 0.1333);
- an 11x11 Gaussian window of sigma 1.5, shrunk at each scale to min(11, H, W) with sigma scaled
  alike (so 64 px images, 4 px at the coarsest scale, still work), applied as a 'valid' convolution;
- K1 = 0.01, K2 = 0.03, pixel range 255, all in float64;
- between scales, a 2x2 average with scipy's 'reflect' edge and a subsampling by 2;
- MS-SSIM = prod(cs_s ** w_s for the first 4 scales) * ssim_5 ** w_5, where ssim and cs are
  averaged over the pixels and channels of each image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW, SIGMA = 11, 1.5
K1, K2, MAX_VALUE = 0.01, 0.03, 255.0
CHUNK = 64  # pairs per ms_ssim call in ms_ssim_diversity: bounds memory at 5 * 64 float64 images


def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    """(size,) float64 normalised Gaussian, centred between taps when size is even (as
    msssim.py)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-x**2 / (2 * sigma**2))
    return g / g.sum()


def _blur_valid(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H - size + 1, W - size + 1): per-channel Gaussian, 'valid'
    convolution.

    The 2-D window of msssim.py is the outer product of two 1-D Gaussians, so two 1-D passes give
    the same result (up to rounding) for far fewer operations. The window is symmetric, so
    correlation (conv2d) equals convolution.
    """
    channels = x.shape[1]
    g = _gaussian_1d(size, SIGMA * size / WINDOW).to(x.device)
    x = F.conv2d(x, g.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)  # along H
    # along W
    return F.conv2d(x, g.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)


def ssim_and_cs(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM and contrast-structure term at one scale: float64 (N, C, H, W) pairs -> two (N,)
    tensors.

    The window is min(11, H, W) wide; both terms are averaged over the pixels and channels of each
    image (msssim.py averages over its whole batch, which is one pair in AC-GAN's use).
    """
    n = a.shape[0]
    size = min(WINDOW, a.shape[2], a.shape[3])
    # One grouped convolution for all five local moments: (5N, C, H, W) -> (5N, C, H', W').
    moments = _blur_valid(torch.cat([a, b, a * a, b * b, a * b]), size)
    mu_a, mu_b, aa, bb, ab = moments.split(n)
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    c1, c2 = (K1 * MAX_VALUE) ** 2, (K2 * MAX_VALUE) ** 2
    cs_map = (2 * cov + c2) / (var_a + var_b + c2)  # (N, C, H', W')
    ssim_map = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1) * cs_map
    return ssim_map.flatten(1).mean(1), cs_map.flatten(1).mean(1)


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2)): 2x2 average, then every second pixel.

    msssim.py convolves with a 2x2 box in scipy's 'reflect' mode (the edge pixel repeated, which
    is torch's 'replicate') and keeps even rows and columns: that is the mean of each 2x2 block,
    with the last row/column doubled when H or W is odd.
    """
    return F.avg_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2)


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    """Raise ValueError unless a and b are uint8 (N, C, H, W) tensors of one shape."""
    if a.dtype != torch.uint8 or b.dtype != torch.uint8:
        raise ValueError(f"ms_ssim expects uint8 images (pixel range 255), got {a.dtype} and "
                         f"{b.dtype}")
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"ms_ssim expects two (N, C, H, W) batches of one shape, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")


def ms_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each pair: uint8 (N, 3, H, W) twice -> (N,) float64, 1 for identical images."""
    _check_pair(a, b)
    x, y = a.double(), b.double()  # (N, 3, H, W)
    result = torch.ones(a.shape[0], dtype=torch.float64, device=a.device)
    for scale, weight in enumerate(WEIGHTS):
        ssim, cs = ssim_and_cs(x, y)  # (N,) each
        # cs (and ssim) can be slightly negative for anti-correlated images; a negative base to a
        # fractional power is NaN, so clamp at 0 as pytorch_msssim and tf.image do (the reference
        # msssim.py would return NaN there).
        last = scale == len(WEIGHTS) - 1
        result = result * (ssim if last else cs).clamp_min(0) ** weight
        if not last:
            x, y = _downsample(x), _downsample(y)
    return result


def _draw_pairs(groups: torch.Tensor, pairs: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) group ids -> two (pairs,) index tensors of distinct images of one group.

    The first image is uniform over all images whose group has at least 2 (so larger groups weigh
    more), its partner uniform over the other images of its group; pairs are drawn with replacement.
    """
    order = torch.argsort(groups, stable=True)  # (N,) positions sorted by group
    _, counts = torch.unique_consecutive(groups[order], return_counts=True)
    size = counts.repeat_interleave(counts)  # (N,) size of each sorted image's group
    start = (counts.cumsum(0) - counts).repeat_interleave(counts)  # (N,) where its group begins
    eligible = (size >= 2).nonzero().squeeze(1)
    if len(eligible) == 0:
        raise ValueError("ms_ssim_diversity needs a group (caption or class) with at least 2 "
                         "images; every group has a single image")
    gen = torch.Generator().manual_seed(seed)
    first = eligible[torch.randint(len(eligible), (pairs,), generator=gen)]
    # An offset in 1..size-1 around the group, so the partner is never the first image itself.
    offset = (torch.rand(pairs, generator=gen, dtype=torch.float64) * (size[first] - 1)).long() + 1
    second = start[first] + (first - start[first] + offset) % size[first]
    return order[first], order[second]


def ms_ssim_diversity(images: torch.Tensor, groups: torch.Tensor, pairs: int = 1000,
                      seed: int = 0) -> dict:
    """Mean MS-SSIM over random same-group pairs (lower = more diverse), as AC-GAN / TAC-GAN report.

    images: uint8 (N, 3, H, W); groups: (N,) ints, one id per caption or class. Groups with a single
    image are skipped; ValueError when no group has two. The pairs depend only on groups and seed.
    Returns {"mean", "std" (population), "pairs"}.
    """
    if groups.shape != (images.shape[0],):
        raise ValueError(f"groups must be ({images.shape[0]},), one id per image, got "
                         f"{tuple(groups.shape)}")
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    first, second = _draw_pairs(groups.cpu().long(), pairs, seed)
    scores = torch.cat([ms_ssim(images[first[i:i + CHUNK]], images[second[i:i + CHUNK]]).cpu()
                        for i in range(0, pairs, CHUNK)])  # (pairs,)
    return {"mean": scores.mean().item(), "std": scores.std(correction=0).item(), "pairs": pairs}
