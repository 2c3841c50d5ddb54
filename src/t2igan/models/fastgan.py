"""A lightweight generator in the FastGAN style (Liu et al., ICLR 2021), which Projected GAN
(Sauer et al. 2021) trains against its discriminator on frozen features, made text-conditioned.

    noise -> 4x4 (transposed conv, GLU) -> up-blocks to the full size -> RGB
    each up-block: x2 nearest, 3x3 conv to 2C, norm, GLU -> C; the norm is a batch norm whose
                   scale and shift come from [noise, sentence] (conditional batch norm), the
                   text entering every resolution as DF-GAN's fusion blocks let it
    skip-layer excitation (SLE): a coarse map gates the channels of the map three doublings finer
                   (pool to 4x4, 4x4 conv, swish, 1x1 conv, sigmoid), a cheap long skip

Facts from FastGAN's code: GLU halves the channels after each conv, SLE pairs 8->128 and
16->256 at 256 px (a ratio of 16); here every level pairs with the one 8x finer, so 64-px
images get two SLEs (4->32, 8->64). Widths grow towards coarse levels as DF-GAN's: ngf at the
image, up to 8 * ngf. Trains with the projected discriminator (--d-backbone, default
efficientnet-lite0) and DF-GAN's matching-aware hinge loss; with --d-backbone none, against
DF-GAN's discriminator with MA-GP.
"""

from __future__ import annotations

import torch
from torch import nn

from t2igan.models import base, df_gan
from t2igan.models.layers import GridProjection, UpsampledConv, base_grid

SIZES = df_gan.SIZES
SLE_SPAN = 3  # doublings between a gating map and the map it gates


class ConditionalNorm(nn.Module):
    """Batch norm without its own affine; scale and shift predicted from the condition, starting
    at the identity (scale 1, shift 0)."""

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.affine = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.affine(cond)[:, :, None, None].chunk(2, dim=1)
        return self.norm(x) * (1 + scale) + shift


def glu(x: torch.Tensor) -> torch.Tensor:
    """F.glu over channels, written out: on channels_last maps F.glu's gradient comes back in the
    other memory format, and the batch norm's backward before it then runs 3x slower (measured:
    one 64-px up-block's forward and backward 342 ms -> 123 ms for 32 images on a 2-core CPU)."""
    value, gate = x.chunk(2, dim=1)
    return value * torch.sigmoid(gate)


class UpBlock(nn.Module):
    def __init__(self, cond_dim: int, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = UpsampledConv(c_in, 2 * c_out, bias=False)  # x2 nearest, then the 3x3 conv
        self.norm = ConditionalNorm(cond_dim, 2 * c_out)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        return glu(self.norm(self.conv(x), cond))


class SkipExcitation(nn.Module):
    """(B, C_coarse, h, w) gates (B, C_fine, H, W): FastGAN's skip-layer excitation."""

    def __init__(self, c_coarse: int, c_fine: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_coarse, c_fine, 4),
                                  nn.SiLU(), nn.Conv2d(c_fine, c_fine, 1), nn.Sigmoid())

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        return fine * self.gate(coarse)  # (B, C_fine, 1, 1) per-channel gates


class Generator(base.Generator):
    """(B, nz) noise + (B, text_dim) sentence -> (B, 3, H, W) in [-1, 1]."""

    def __init__(self, text_dim: int, size: tuple[int, int], nz: int = 100, ngf: int = 32) -> None:
        super().__init__()
        self.noise_dim = nz
        w0, h0, steps = base_grid(size)
        chans = df_gan.channels(ngf, steps)[::-1]  # coarse to fine: 64 px [8, 8, 4, 2, 1] * ngf
        cond_dim = nz + text_dim
        # FastGAN's first layer sees the noise alone: with [noise, sentence] here, G drew one
        # image per caption whatever the noise (a 6-minute cars run)
        self.start = nn.Sequential(GridProjection(nz, 2 * chans[0], (h0, w0)),
                                   nn.BatchNorm2d(2 * chans[0]))
        self.blocks = nn.ModuleList(UpBlock(cond_dim, c_in, c_out)
                                    for c_in, c_out in zip(chans, chans[1:]))
        # level i (0: the start grid) gates level i + SLE_SPAN
        self.excite = nn.ModuleDict({
            str(i + SLE_SPAN): SkipExcitation(chans[i], chans[i + SLE_SPAN])
            for i in range(len(chans) - SLE_SPAN)})
        self.to_rgb = nn.Sequential(nn.Conv2d(chans[-1], 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        cond = torch.cat([z, text], dim=1)  # (B, nz + text_dim)
        levels = [glu(self.start(z[:, :, None, None]))]  # (B, 8ngf, h0, w0)
        for i, block in enumerate(self.blocks, start=1):
            x = block(levels[-1], cond)
            if str(i) in self.excite:
                x = self.excite[str(i)](levels[i - SLE_SPAN], x)
            levels.append(x)
        return self.to_rgb(levels[-1])


def build(text_dim: int, cfg, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """The generator, and DF-GAN's D for --d-backbone none (the registry swaps in the projected
    D otherwise)."""
    return (Generator(text_dim, cfg.size, cfg.nz, cfg.ngf),
            df_gan.Discriminator(text_dim, cfg.size, cfg.ndf))
