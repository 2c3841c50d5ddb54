"""Exponential moving average of G's weights: the generator that samples and gets evaluated.

GAN weights oscillate around a good solution from step to step; their running average makes
steadier, usually better images (Karras et al. 2018; Yazici et al. 2019), at no training cost.

Batch norm's running statistics cannot be averaged that way: they describe the activations of the
weights that made them. Before the average samples or is saved, its statistics are measured anew
under its own weights (BigGAN's "standing statistics", Brock et al. 2019).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from t2igan.models.base import Noise

# a fastgan cats run scored the same FID (127.2) settled on 512, 2,048 or 8,192 images
SETTLE_IMAGES, SETTLE_BATCH = 512, 64


class EMA:
    def __init__(self, G: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(G).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, G: nn.Module, step: int) -> None:
        """Move the average towards G. Early on the decay ramps up from 0.1
        ((1 + step) / (10 + step)), so that in a short run the average is not dominated by the
        random initial weights."""
        decay = min(self.decay, (1 + step) / (10 + step))
        # one fused call for all tensors, not a Python loop of small kernels
        torch._foreach_lerp_(list(self.model.parameters()), list(G.parameters()), 1 - decay)
        # buffers (batch-norm statistics) are copied; settle_batch_norms measures the average's
        # own before it samples or is saved
        mine = list(self.model.buffers())
        if mine:
            torch._foreach_copy_(mine, list(G.buffers()))


@torch.no_grad()
def settle_batch_norms(G: nn.Module, text: torch.Tensor, seed: int) -> None:
    """Measure G's batch-norm statistics under its own weights: G made from fresh noise and the
    training captions' (N, D) sentence vectors, in training mode, the statistics averaged over
    SETTLE_IMAGES images; G is left in eval mode. Same seed, same statistics."""
    G.train()  # frozen parts (StackGAN's stage I) stay in eval mode
    norms = [m for m in G.modules() if isinstance(m, _BatchNorm) and m.training]
    try:
        if not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches, not a decaying one
        rng = torch.Generator(text.device).manual_seed(seed)
        noise = Noise(G.noise_dim, rng)
        for _ in range(SETTLE_IMAGES // SETTLE_BATCH):
            picks = torch.randint(len(text), (SETTLE_BATCH,), generator=rng, device=text.device)
            G(noise(SETTLE_BATCH), text[picks])
        for m, momentum in zip(norms, momenta, strict=True):
            m.momentum = momentum
    finally:
        G.eval()
