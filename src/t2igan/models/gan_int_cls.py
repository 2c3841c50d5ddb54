"""GAN-INT-CLS (Reed et al., "Generative Adversarial Text to Image Synthesis", ICML 2016).

A DCGAN whose generator sees [noise, text code] and whose discriminator tiles the text code onto
its 4x4 features. The losses that make it GAN-INT-CLS (the matching-aware discriminator and the
interpolated text embeddings) are in `Objective` below, over the pure functions of `t2igan.losses`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from t2igan import losses
from t2igan.models import base
from t2igan.models.layers import GridProjection, dcgan_init, doublings, text_projection
from t2igan.models.objective import Batch, Generated, judge_matching, stats
from t2igan.models.objective import Objective as SharedGeneration

SIZES = ((32, 32), (64, 64), (128, 128))  # the paper's is 64x64; the DCGAN tower scales by doubling


class Generator(base.Generator):
    """(B, nz) noise + (B, text_dim) sentence vector -> (B, 3, S, S) image in [-1, 1]."""

    def __init__(self, text_dim: int, image_size: int = 64, nz: int = 100, ngf: int = 64,
                 text_code: int = 128) -> None:
        super().__init__()
        self.noise_dim = nz
        ups = doublings(image_size)  # 4 for 64 px: 4 -> 8 -> 16 -> 32 -> 64
        channels = [ngf * 2 ** (ups - 1 - i) for i in range(ups)]  # 64 px: [8, 4, 2, 1] * ngf
        self.project_text = text_projection(text_dim, text_code)
        layers: list[nn.Module] = [
            GridProjection(nz + text_code, channels[0], 4, bias=False),  # (B, 8ngf, 4, 4)
            nn.BatchNorm2d(channels[0]), nn.ReLU(True)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        code = self.project_text(text)  # (B, text_code)
        x = torch.cat([z, code], dim=1)[:, :, None, None]  # (B, nz + text_code, 1, 1)
        return self.net(x)


class MatchingHead(nn.Sequential):
    """D's verdict on 4x4 image features with a text code: the paper's [features, code tiled to
    4x4] -> 1x1 conv -> leaky ReLU -> 4x4 conv -> logit, computed as the products it is.

    The 1x1 conv of a concatenation is a sum of two products, and the code's is the same at all 16
    places: it is computed once per text, not 16 times, and the image's once per image, however
    many texts it is judged with (`see`, then `judge`). oneDNN's convolutions on 4x4 maps cost
    several times their arithmetic here (docs/models.md, "Same function, fewer operations"). Same
    parameters as the nn.Sequential of the two convs, so checkpoints load."""

    def __init__(self, channels: int, text_code: int) -> None:
        super().__init__(nn.Conv2d(channels + text_code, channels, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(channels, 1, 4, 1, 0, bias=False))

    def see(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, 4, 4) features -> (B, 4, 4, C) their part of the 1x1 conv, with its bias."""
        fuse = self[0]
        image_weight = fuse.weight.flatten(1)[:, : features.shape[1]]
        return F.linear(features.permute(0, 2, 3, 1), image_weight, fuse.bias)

    def judge(self, seen: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """`see`'s (B, 4, 4, C) and (B, text_code) codes -> (B,) logits."""
        fuse, verdict = self[0], self[2]
        text_weight = fuse.weight.flatten(1)[:, seen.shape[-1]:]
        hidden = F.leaky_relu(seen + F.linear(code, text_weight)[:, None, None], 0.2)
        # the 4x4 conv over a 4x4 map: one weight per place and channel, in (4, 4, C) order
        return hidden.flatten(1) @ verdict.weight.permute(0, 2, 3, 1).flatten()


class Discriminator(base.Discriminator):
    """Image -> 4x4 features, then [features, tiled text code] -> logit, for each text asked about.

    One deliberate change from the paper: no batch norm in D. D judges all-real, all-mismatched
    and all-fake batches in separate passes, and with batch statistics it learned to tell those
    batches apart by their statistics: in 400 CPU steps G then stayed at noise, while the same
    D without batch norm led G to structured images (docs/models.md, "GAN-INT-CLS in detail").

    The image tower, the expensive part, runs once per image however many texts it is judged with
    (the matching-aware loss asks about two).
    """

    def __init__(self, text_dim: int, image_size: int = 64, ndf: int = 64,
                 text_code: int = 128) -> None:
        super().__init__()
        downs = doublings(image_size)
        channels = [ndf * 2**i for i in range(downs)]  # 64 px: [1, 2, 4, 8] * ndf
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        self.image_tower = nn.Sequential(*layers)  # (B, 8ndf, 4, 4) at 64 px
        self.project_text = text_projection(text_dim, text_code)
        self.head = MatchingHead(channels[-1], text_code)
        dcgan_init(self)

    def judge(self, seen: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """(B,) logits of the head's view of the images (`head.see`) with these sentences."""
        return self.head.judge(seen, self.project_text(text))

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                mismatched: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> base.Judgement:
        seen = self.head.see(self.image_tower(images))  # (B, 4, 4, 8ndf) at 64 px
        return base.Judgement(self.judge(seen, text),
                              base.judge_others(self.judge, seen, mismatched))


def build(text_dim: int, cfg, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    side = cfg.size[0]
    return (Generator(text_dim, side, cfg.nz, cfg.ngf, cfg.text_code),
            Discriminator(text_dim, side, cfg.ndf, cfg.text_code))


class Objective(SharedGeneration):
    """GAN-INT-CLS's training objective, one batch at a time.

    D: matching-aware loss over (real, right text), (real, mismatched text), (fake, right text).
    G: fool D with its text, and also with interpolations between two captions' embeddings
    (GAN-INT, beta = 0.5 as in the paper), which fills the gaps between training sentences.
    Mismatched text = the nearest other caption in the batch that differs (`objective.mismatch`).
    """

    def __init__(self, interpolation: float = 0.5) -> None:
        self.beta = interpolation

    def discriminator_loss(self, D: nn.Module, batch: Batch,
                           generated: Generated) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        real, fake = judge_matching(D, batch.real, generated.images.detach(), batch.text,
                                    batch.mismatched)
        loss = losses.matching_aware_d_loss(real.logits, real.mismatched, fake.logits,
                                            batch.differs)
        return loss, stats(d_real=real.logits, d_wrong=real.mismatched, d_fake=fake.logits)

    def generator_loss(self, G: nn.Module, D: nn.Module, batch: Batch, generated: Generated,
                       noise: base.Noise) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        text = batch.text
        other = batch.mismatched[: len(text)]  # the first mismatched caption of each image
        mixed = self.beta * text + (1 - self.beta) * other  # (B, text_dim)
        # Plain and interpolated texts in separate passes, not one concatenated batch: G uses
        # batch norm, and a batch that mixes the two has statistics D never saw in its own phase,
        # which G learns to exploit instead of drawing (measured: D's logit on the same fakes
        # went from -9 alone to +0.4 inside a mixed batch).
        plain = losses.non_saturating_g_loss(D(generated.images, text).logits)
        interpolated = losses.non_saturating_g_loss(D(G(noise(len(text)), mixed), mixed).logits)
        return plain + interpolated, stats(g_plain=plain, g_interpolated=interpolated)
