"""Exponential moving average of G's weights: the generator that samples and gets evaluated.

GAN weights oscillate around a good solution from step to step; their running average makes
steadier, usually better images (Karras et al. 2018; Yazici et al. 2019), at no training cost.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


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
        mine = list(self.model.buffers())  # batch-norm statistics: copied
        if mine:
            torch._foreach_copy_(mine, list(G.buffers()))
