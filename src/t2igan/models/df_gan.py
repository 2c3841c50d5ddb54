"""DF-GAN (Tao et al., "DF-GAN: A Simple and Effective Baseline for Text-to-Image Synthesis",
CVPR 2022).

One stage from noise to the full-size image. Each up-sampling block fuses the sentence into the
image features twice per convolution through stacked affine transformations (scale and shift
predicted from [noise, sentence]: the "deep fusion" block). D is a stack of down-sampling
residual blocks; the sentence vector is tiled onto its smallest grid and a conv head judges the
pair. Training: hinge loss with the matching-aware D, plus the matching-aware gradient penalty
(MA-GP) on real images and their own text. Facts from the official code: all G blocks up-sample;
channels are nf * min(2^i, 8) from the image side; each affine is a 2-layer MLP initialised to
the identity (scale 1, shift 0); D's residual branch is scaled by a learned gamma that starts at 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from t2igan import losses
from t2igan.models import base
from t2igan.models.layers import UpsampledConv, base_grid
from t2igan.models.objective import (
    Batch,
    Generated,
    class_loss,
    d_class_loss,
    judge_matching,
    stats,
)
from t2igan.models.objective import Objective as SharedGeneration

SIZES = ((64, 64), (128, 128), (256, 256), (128, 96), (256, 192), (512, 384))
GP_WEIGHT, GP_POWER = 2.0, 6.0  # MA-GP's k and p (paper and official code)


def channels(nf: int, steps: int) -> list[int]:
    """Channels from the image-side grid to the smallest one: nf, 2nf, 4nf, 8nf, 8nf..."""
    return [nf * min(2**i, 8) for i in range(steps + 1)]


class Affine(nn.Module):
    """x * scale(cond) + shift(cond), per channel; scale and shift are small MLPs of the
    condition."""

    def __init__(self, cond_dim: int, num_channels: int) -> None:
        super().__init__()
        self.scale = nn.Sequential(nn.Linear(cond_dim, num_channels), nn.ReLU(True),
                                   nn.Linear(num_channels, num_channels))
        self.shift = nn.Sequential(nn.Linear(cond_dim, num_channels), nn.ReLU(True),
                                   nn.Linear(num_channels, num_channels))
        for mlp, start in ((self.scale, 1.0), (self.shift, 0.0)):  # start as the identity transform
            nn.init.zeros_(mlp[2].weight)
            nn.init.constant_(mlp[2].bias, start)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # one pass over x (addcmul), not two (multiply, then add)
        return torch.addcmul(self.shift(cond)[:, :, None, None], x,
                             self.scale(cond)[:, :, None, None])


class Fusion(nn.Module):
    """The deep fusion block: affine, leaky ReLU, affine, leaky ReLU."""

    def __init__(self, cond_dim: int, num_channels: int) -> None:
        super().__init__()
        self.first, self.second = Affine(cond_dim, num_channels), Affine(cond_dim, num_channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.first(x, cond), 0.2)
        return F.leaky_relu(self.second(x, cond), 0.2)


class UpBlock(nn.Module):
    """x2 nearest up-sampling, then shortcut + [fuse, conv3x3, fuse, conv3x3].

    The first fusion (per-channel affines and leaky ReLUs) and the 1x1 shortcut act on each pixel
    alone, so they commute with nearest up-sampling: both run on the small grid, and the first
    conv folds the up-sampling in (`UpsampledConv`). The same function with fewer FLOPs."""

    def __init__(self, cond_dim: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.fuse1, self.conv1 = Fusion(cond_dim, c_in), UpsampledConv(c_in, c_out)
        self.fuse2, self.conv2 = Fusion(cond_dim, c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        residual = self.conv2(self.fuse2(self.conv1(self.fuse1(x, cond)), cond))
        return F.interpolate(self.shortcut(x), scale_factor=2.0) + residual


class DownBlock(nn.Module):
    """avg-pooled shortcut + gamma * [conv4x4 stride 2, leaky ReLU, conv3x3, leaky ReLU], gamma
    from 0."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.LeakyReLU(0.2, True))
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.residual(x)
        # gamma in the residual's precision: under autocast an fp32 gamma would turn the sum into
        # fp32, and each map after it would be cast back for the next conv (22 casts of D's
        # largest maps per step). Pooled, then the 1x1 conv: the same as the official
        # conv-then-pool (both are linear), on a quarter of the pixels.
        return self.shortcut(F.avg_pool2d(x, 2)) + self.gamma.to(residual.dtype) * residual


class Generator(base.Generator):
    """(B, nz) noise + (B, text_dim) sentence -> (B, 3, H, W) in [-1, 1]."""

    def __init__(self, text_dim: int, size: tuple[int, int], nz: int = 100, ngf: int = 32) -> None:
        super().__init__()
        self.noise_dim = nz
        w0, h0, steps = base_grid(size)
        chans = channels(ngf, steps)[::-1]  # 64 px: [8, 8, 4, 2, 1] * ngf
        self.grid = (chans[0], h0, w0)
        self.project_noise = nn.Linear(nz, chans[0] * h0 * w0)  # (B, 8ngf * h0 * w0)
        self.blocks = nn.ModuleList(UpBlock(nz + text_dim, c_in, c_out)
                                    for c_in, c_out in zip(chans, chans[1:]))
        self.to_rgb = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(chans[-1], 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        x = self.project_noise(z).view(len(z), *self.grid)  # (B, 8ngf, h0, w0)
        cond = torch.cat([z, text], dim=1)  # the affines see the noise too, as in the official code
        for block in self.blocks:
            x = block(x, cond)
        return self.to_rgb(x)


class Discriminator(base.Discriminator):
    """Image -> (B, 8ndf, h0, w0) features; [features, tiled sentence] -> conv head -> logit."""

    def __init__(self, text_dim: int, size: tuple[int, int], ndf: int = 32) -> None:
        super().__init__()
        w0, h0, steps = base_grid(size)
        chans = channels(ndf, steps)  # 64 px: [1, 2, 4, 8, 8] * ndf
        self.from_rgb = nn.Conv2d(3, chans[0], 3, 1, 1)
        self.blocks = nn.Sequential(*(DownBlock(c_in, c_out)
                                      for c_in, c_out in zip(chans, chans[1:])))
        self.head = nn.Sequential(
            nn.Conv2d(chans[-1] + text_dim, ndf * 2, 3, 1, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, (h0, w0), 1, 0, bias=False))  # (B, 1, 1, 1)

    def judge(self, features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        tiled = text[:, :, None, None].expand(-1, -1, *features.shape[2:])  # (B, text_dim, h0, w0)
        return self.head(torch.cat([features, tiled], dim=1)).flatten()  # (B,)

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                mismatched: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> base.Judgement:
        features = self.blocks(self.from_rgb(images))  # (B, 8ndf, h0, w0)
        return base.Judgement(self.judge(features, text),
                              base.judge_others(self.judge, features, mismatched))


def build(text_dim: int, cfg, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    return (Generator(text_dim, cfg.size, cfg.nz, cfg.ngf),
            Discriminator(text_dim, cfg.size, cfg.ndf))


class Objective(SharedGeneration):
    """Hinge loss with the matching-aware D, plus MA-GP on (real image, its own text).

    Without the penalty (gradient_penalty=False) for a D on frozen pretrained features: Projected
    GAN trains with none, and through a frozen backbone it would cost a second backward pass
    through the whole network every step. A D that classifies (a projected D trained with
    --label) adds TAC-GAN's class loss for D and G.

    `penalty_every` N > 1 is StyleGAN2's lazy regularisation (Karras et al. 2020, section 3.1):
    the penalty on every Nth step only, N times as strong, the same in expectation. Its second
    backward pass through D is 28% of a DF-GAN step (nf 32, 64 px, bf16 on a CPU)."""

    def __init__(self, gradient_penalty: bool = True, penalty_every: int = 1) -> None:
        self.gradient_penalty, self.penalty_every = gradient_penalty, penalty_every

    def discriminator_loss(self, D: nn.Module, batch: Batch,
                           generated: Generated) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        penalised = self.gradient_penalty and batch.step % self.penalty_every == 0
        real_images = batch.real.detach().requires_grad_(penalised)
        text = batch.text.detach().requires_grad_(penalised)  # MA-GP differentiates w.r.t. text too
        real, fake = judge_matching(D, real_images, generated.images.detach(), text,
                                    batch.mismatched, batch.labels)
        loss = losses.hinge_d_loss(real.logits, real.mismatched, fake.logits, batch.differs)
        logged = stats(d_real=real.logits, d_wrong=real.mismatched, d_fake=fake.logits)
        if real.classes is not None:
            classes = d_class_loss(real, fake, batch.labels)
            loss, logged["d_class"] = loss + classes, classes.detach()
        if penalised:
            penalty = losses.matching_aware_gradient_penalty(
                real.logits, real_images, text, GP_WEIGHT * self.penalty_every, GP_POWER)
            loss, logged["ma_gp"] = loss + penalty, penalty.detach()
        return loss, logged

    def generator_loss(self, G: nn.Module, D: nn.Module, batch: Batch, generated: Generated,
                       noise: base.Noise) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake = D(generated.images, batch.text, labels=batch.labels)
        loss = losses.hinge_g_loss(fake.logits)
        logged = stats(g_fake=fake.logits)
        if fake.classes is not None:
            classes = class_loss(fake, batch.labels)
            loss, logged["g_class"] = loss + classes, classes.detach()
        return loss, logged


def objective(cfg) -> Objective:
    """DF-GAN's objective as configured: MA-GP every --gp-every steps, none for a D on frozen
    pretrained features."""
    return Objective(gradient_penalty=cfg.d_backbone == "none", penalty_every=cfg.gp_every)
