"""Discriminators on frozen pretrained features (Projected GAN, Sauer et al., NeurIPS 2021), with
the text conditioning of StyleGAN-T (Sauer et al. 2023) and the matching-aware term of GAN-CLS.

    images (augmented by the trainer) -> frozen ImageNet backbone -> 4 feature maps (1/4..1/32)
      -> fixed random 1x1 convs (cross-channel mixing, CCM) and a fixed random top-down path
         that adds each coarser map to the next finer one (cross-scale mixing, CSM)
      -> one small trainable head per scale -> a map of logits per head, all heads concatenated

Facts from the paper and its code: the backbone and both mixings are random or pretrained and
never train; the mixing widens to 64/128/256/512 channels; each head down-samples with strided
4x4 spectral-norm convs; the losses are applied to every logit of every head (the Judgement
carries (B, N) logits, N positions over all heads); DiffAugment comes before the backbone.
Conditioning, as StyleGAN-T's heads: each head ends in a feature map f (B, E, h, w) and the logit
at each position is w . f + <f, project(text)> / sqrt(E) (projection; Miyato & Koyama 2018).
A class, where the model has one, is the model's own auxiliary-classifier loss on a linear
head over the pooled head features (TAC-GAN's ac, ReACGAN's d2d-ce).

The backbone reads the images resized so that their shorter side is --d-input-size (by default
twice theirs, at most 224: Projected GAN resizes to 224, a 10x dearer step at 64 px on 2 CPU
cores), and a head stops down-sampling at 8x8, as Projected GAN's. Runs from before that setting
(d_input_size 0) read at the image's own size with heads down to 4x4, and still load.
Heads have no batch norm: D judges real, fake and mismatched batches in separate passes, and
batch statistics let it tell those batches apart (docs/models.md, GAN-INT-CLS).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from t2igan.models import base
from t2igan.models.backbones import FrozenBackbone

MIX_CHANNELS = (64, 128, 256, 512)  # Projected GAN's widened CCM output, finest to coarsest
EMBED_DIM = 64  # the width of each head's last feature map and of the text projection into it
MIX_SEED = 0  # the random mixing is the same in every run
HEAD_END = 8  # heads down-sample to 8x8, as Projected GAN's
LEGACY_HEAD_END = 4  # ... and to 4x4 in runs saved before --d-input-size (d_input_size 0)


class RandomMixing(nn.Module):
    """Fixed random cross-channel (1x1 conv per scale) and cross-scale (top-down) mixing."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        rng = torch.Generator().manual_seed(MIX_SEED)
        self.channel_mix = nn.ModuleList(nn.Conv2d(c, m, 1) for c, m in zip(channels, MIX_CHANNELS))
        # the top-down path: the coarser mixed map, up-sampled, through a 1x1 conv to this width
        self.scale_mix = nn.ModuleList(nn.Conv2d(coarse, fine, 1)
                                       for fine, coarse in zip(MIX_CHANNELS, MIX_CHANNELS[1:]))
        for conv in [*self.channel_mix, *self.scale_mix]:
            nn.init.kaiming_normal_(conv.weight, generator=rng)
            nn.init.zeros_(conv.bias)
        self.requires_grad_(False)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        mixed = [mix(f) for mix, f in zip(self.channel_mix, features)]
        for i in range(len(mixed) - 2, -1, -1):  # coarse to fine: each adds the one below it
            coarser = F.interpolate(mixed[i + 1], size=mixed[i].shape[2:], mode="bilinear",
                                    align_corners=False)
            mixed[i] = mixed[i] + self.scale_mix[i](coarser)
        return mixed


class Head(nn.Module):
    """(B, C, s, s) mixed features -> (B, EMBED_DIM, <=end, <=end) map f; logits from f and
    text."""

    def __init__(self, channels: int, side: int, cond_dim: int, end: int = HEAD_END) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        while side > end:  # strided 4x4 convs down to `end`, widening up to 512
            out = min(2 * channels, 512)
            layers += [spectral_norm(nn.Conv2d(channels, out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            channels, side = out, side // 2
        layers += [spectral_norm(nn.Conv2d(channels, EMBED_DIM, 1))]
        self.body = nn.Sequential(*layers)
        self.unconditional = spectral_norm(nn.Conv2d(EMBED_DIM, 1, 1))
        self.project_text = nn.Linear(cond_dim, EMBED_DIM)

    def features(self, mixed: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.body(mixed), 0.2)

    def logits(self, f: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """(B, E, h, w) features + (B, cond_dim) condition -> (B, h * w) logits."""
        projected = (f * self.project_text(cond)[:, :, None, None]).sum(1, keepdim=True)
        return (self.unconditional(f) + projected / math.sqrt(EMBED_DIM)).flatten(1)


class ProjectedDiscriminator(base.Discriminator):
    """The model contract's D on frozen features: logits (B, N) for N positions over 4 heads."""

    def __init__(self, backbone: FrozenBackbone, size: tuple[int, int], cond_dim: int,
                 num_classes: int = 0, aux_loss: str = "ac", class_embed_dim: int = 512,
                 input_size: int = 0) -> None:
        super().__init__()
        self.backbone = backbone
        self.mixing = RandomMixing(backbone.channels)
        # the backbone reads images scaled so that their shorter side is input_size (0: as given)
        self.scale = input_size / min(size) if input_size else 1.0
        sides = [round(min(size) * self.scale) // 2 ** (i + 2) for i in range(4)]
        end = HEAD_END if input_size else LEGACY_HEAD_END
        self.heads = nn.ModuleList(Head(c, max(s, 1), cond_dim, end)
                                   for c, s in zip(MIX_CHANNELS, sides))
        self.aux_loss = aux_loss
        if num_classes:
            pooled = EMBED_DIM * len(self.heads)
            self.classify = nn.Linear(pooled, num_classes if aux_loss == "ac" else class_embed_dim)
            if aux_loss == "d2d-ce":
                self.proxies = nn.Embedding(num_classes, class_embed_dim)

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                mismatched: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> base.Judgement:
        if self.scale != 1.0:
            images = F.interpolate(images, scale_factor=self.scale, mode="bilinear",
                                   align_corners=False, antialias=self.scale < 1)
        mixed = self.mixing(self.backbone(images))
        features = [head.features(m) for head, m in zip(self.heads, mixed)]

        def judge(cond: torch.Tensor) -> torch.Tensor:  # (len(cond), N)
            return torch.cat([head.logits(base.tile(f, cond), cond)
                              for head, f in zip(self.heads, features)], 1)

        judged = base.Judgement(judge(text), None if mismatched is None else judge(mismatched))
        if labels is not None and hasattr(self, "classify"):
            pooled = torch.cat([f.mean((2, 3)) for f in features], 1)  # (B, 4E)
            judged.classes = self.classify(pooled)
            judged.proxies = self.proxies(labels) if self.aux_loss == "d2d-ce" else None
        return judged
