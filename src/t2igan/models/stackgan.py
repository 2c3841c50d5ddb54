"""StackGAN (Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis", ICCV 2017).

Conditioning augmentation (CA): the sentence vector gives a mean and log-variance, and the text
code is sampled from that Gaussian, with a KL term towards N(0, I), so that nearby codes all make
plausible images. Stage I draws 64 px from [noise, code]; stage II encodes the stage-I image to
16x16, joins its own CA code, refines it with residual blocks and up-samples to 256 px. Stage II
is trained with stage I frozen (`--stage 2 --stage1-run RUN`).

Facts from the official PyTorch code: CA is Linear + ReLU split into (mu, logvar); D is
conditioned on G's mu (detached), not on its own text projection; the KL weight is 2 and is the
mean over elements; D uses batch norm; stage II's D also has an unconditional logit.

One change of interface, not of method: the CA's standard-normal epsilon is drawn as part of
G's noise (`noise_dim = nz + code`) instead of inside G, so a seed fixes an image exactly.
`G(z, text, with_condition=True)` also returns CA's mu and logvar, which the objective needs.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from t2igan import losses
from t2igan.errors import UserError
from t2igan.models import base
from t2igan.models.layers import UpsampledConv, dcgan_init
from t2igan.models.objective import Batch, Generated, differing, judge_matching, mismatch, stats
from t2igan.models.objective import Objective as SharedGeneration
from t2igan.runs import Checkpoint, apply_weights, load_latest, read_config

SIZES = ((64, 64), (256, 256))  # stage I, stage II
KL_WEIGHT = 2.0
RESIDUAL_BLOCKS = 2  # stage II's residual blocks (the official birds config)


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)


def up_block(c_in: int, c_out: int) -> nn.Sequential:
    """x2 nearest up-sampling and a 3x3 conv (one `UpsampledConv`), batch norm, ReLU. Named from
    "1": "0" was the up-sampling layer, and the names keep earlier runs' checkpoints loading."""
    return nn.Sequential(OrderedDict([("1", UpsampledConv(c_in, c_out, bias=False)),
                                      ("2", nn.BatchNorm2d(c_out)), ("3", nn.ReLU(True))]))


def down_block(c_in: int, c_out: int, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False)]
    return layers + ([nn.BatchNorm2d(c_out)] if norm else []) + [nn.LeakyReLU(0.2, True)]


class ConditioningAugmentation(nn.Module):
    """Sentence (B, text_dim) + epsilon (B, code) -> sampled code, mu, logvar (each (B, code))."""

    def __init__(self, text_dim: int, code: int) -> None:
        super().__init__()
        self.code = code
        self.fc = nn.Sequential(nn.Linear(text_dim, 2 * code), nn.ReLU(True))

    def forward(self, text: torch.Tensor,
                epsilon: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.fc(text).chunk(2, dim=1)
        return mu + epsilon * (0.5 * logvar).exp(), mu, logvar


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(conv3x3(channels, channels), nn.BatchNorm2d(channels),
                                   nn.ReLU(True), conv3x3(channels, channels),
                                   nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.block(x) + x)


class Stage1Generator(base.Generator):
    """[noise, CA code] -> 64 px. `ngf` is the paper's GF_DIM (128): 8ngf at 4x4 down to ngf/2 at
    64."""

    def __init__(self, text_dim: int, nz: int = 100, ngf: int = 128, code: int = 128) -> None:
        super().__init__()
        self.nz, self.noise_dim = nz, nz + code
        self.ca = ConditioningAugmentation(text_dim, code)
        c = ngf * 8
        self.project = nn.Sequential(nn.Linear(nz + code, c * 16, bias=False),
                                     nn.BatchNorm1d(c * 16), nn.ReLU(True))
        # 4 -> 64 px, 8ngf -> ngf/2 channels
        self.up = nn.Sequential(up_block(c, c // 2), up_block(c // 2, c // 4),
                                up_block(c // 4, c // 8), up_block(c // 8, c // 16))
        self.to_rgb = nn.Sequential(conv3x3(c // 16, 3), nn.Tanh())
        dcgan_init(self)

    def forward(self, z: torch.Tensor, text: torch.Tensor, with_condition: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z_image, epsilon = z.split([self.nz, self.ca.code], dim=1)
        code, mu, logvar = self.ca(text, epsilon)
        # (B, 8ngf, 4, 4)
        x = self.project(torch.cat([z_image, code], dim=1)).view(len(z), -1, 4, 4)
        image = self.to_rgb(self.up(x))
        return (image, mu, logvar) if with_condition else image


class Stage2Generator(base.Generator):
    """Stage-I image (frozen stage I) + its own CA code -> 256 px."""

    def __init__(self, stage1: Stage1Generator, text_dim: int, ngf: int = 128,
                 code: int = 128) -> None:
        super().__init__()
        self.stage1 = stage1.requires_grad_(False).eval()
        self.noise_dim = stage1.noise_dim + code
        self.ca = ConditioningAugmentation(text_dim, code)
        self.encode = nn.Sequential(conv3x3(3, ngf), nn.ReLU(True),
                                    nn.Conv2d(ngf, ngf * 2, 4, 2, 1, bias=False),
                                    nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                                    nn.Conv2d(ngf * 2, ngf * 4, 4, 2, 1, bias=False),
                                    nn.BatchNorm2d(ngf * 4), nn.ReLU(True))  # (B, 4ngf, 16, 16)
        self.join = nn.Sequential(conv3x3(code + ngf * 4, ngf * 4), nn.BatchNorm2d(ngf * 4),
                                  nn.ReLU(True))
        self.refine = nn.Sequential(*(ResBlock(ngf * 4) for _ in range(RESIDUAL_BLOCKS)))
        # 16 -> 256 px
        self.up = nn.Sequential(up_block(ngf * 4, ngf * 2), up_block(ngf * 2, ngf),
                                up_block(ngf, ngf // 2), up_block(ngf // 2, ngf // 4))
        self.to_rgb = nn.Sequential(conv3x3(ngf // 4, 3), nn.Tanh())
        for part in (self.ca, self.encode, self.join, self.refine, self.up, self.to_rgb):
            dcgan_init(part)

    def train(self, mode: bool = True) -> Stage2Generator:
        super().train(mode)
        self.stage1.eval()  # frozen: its batch norm keeps its trained statistics
        return self

    def forward(self, z: torch.Tensor, text: torch.Tensor, with_condition: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z1, epsilon = z.split([self.stage1.noise_dim, self.ca.code], dim=1)
        with torch.no_grad():
            low = self.stage1(z1, text)  # (B, 3, 64, 64)
        code, mu, logvar = self.ca(text, epsilon)
        x = self.encode(low)
        x = torch.cat([x, code[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        image = self.to_rgb(self.up(self.refine(self.join(x))))
        return (image, mu, logvar) if with_condition else image


class Discriminator(base.Discriminator):
    """Image -> (B, 8ndf, 4, 4); [features, tiled code] -> conditional logit; stage II adds an
    unconditional one."""

    def __init__(self, side: int, ndf: int = 64, code: int = 128) -> None:
        super().__init__()
        layers = down_block(3, ndf, norm=False) + down_block(ndf, ndf * 2) + \
            down_block(ndf * 2, ndf * 4) + down_block(ndf * 4, ndf * 8)  # 64 -> 4 px
        if side == 256:  # 256 -> 4 px, then back to 8ndf channels
            layers += down_block(ndf * 8, ndf * 16) + down_block(ndf * 16, ndf * 32)
            layers += [conv3x3(ndf * 32, ndf * 16), nn.BatchNorm2d(ndf * 16),
                       nn.LeakyReLU(0.2, True), conv3x3(ndf * 16, ndf * 8), nn.BatchNorm2d(ndf * 8),
                       nn.LeakyReLU(0.2, True)]
        self.image_tower = nn.Sequential(*layers)
        self.conditional = nn.Sequential(conv3x3(ndf * 8 + code, ndf * 8), nn.BatchNorm2d(ndf * 8),
                                         nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * 8, 1, 4, 4))
        self.unconditional = nn.Conv2d(ndf * 8, 1, 4, 4) if side == 256 else None
        dcgan_init(self)

    def judge(self, features: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        tiled = code[:, :, None, None].expand(-1, -1, *features.shape[2:])
        return self.conditional(torch.cat([features, tiled], dim=1)).flatten()  # (B,)

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                mismatched: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> base.Judgement:
        """`text` is the condition code (G's mu), as in the official code, not the sentence
        vector."""
        features = self.image_tower(images)  # (B, 8ndf, 4, 4)
        return base.Judgement(self.judge(features, text),
                              base.judge_others(self.judge, features, mismatched),
                              (None if self.unconditional is None
                               else self.unconditional(features).flatten()))


def build(text_dim: int, cfg, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    stage1 = Stage1Generator(text_dim, cfg.nz, cfg.ngf, cfg.text_code)
    G = stage1 if cfg.stage == 1 else Stage2Generator(stage1, text_dim, cfg.ngf, cfg.text_code)
    return G, Discriminator(cfg.size[0], cfg.ndf, cfg.text_code)


# Settings stage II must share with its stage-I run: they shape the frozen stage-I generator.
SHARED_WITH_STAGE1 = ("nz", "ngf", "text_code", "text_encoder")


def stage_defaults(cfg) -> dict:
    """The image size of the stage, and for stage II the stage-I run's shared settings."""
    if cfg.stage == 1:
        return {"image_size": "64"}
    if not cfg.stage1_run:
        raise UserError("stackgan --stage 2 needs --stage1-run RUN, "
                        "a stackgan run trained with --stage 1")
    first = read_config(cfg.stage1_run)
    if first.model != "stackgan" or first.stage != 1:
        raise UserError(f"--stage1-run {cfg.stage1_run} is not a stackgan --stage 1 run")
    shared = {name: getattr(first, name) for name in SHARED_WITH_STAGE1}
    for name, value in shared.items():
        if getattr(cfg, name) is not None and getattr(cfg, name) != value:
            raise UserError(f"--{name.replace('_', '-')} {getattr(cfg, name)} differs from the "
                            f"stage-I run's {value}; stage II must match it (leave it unset)")
    return {"image_size": "256", **shared}


def load_stage1(G: nn.Module, cfg) -> None:
    """Start stage II from the stage-I run's latest generator (the one that samples)."""
    if cfg.stage != 2:
        return
    checkpoint = load_latest(Path(cfg.stage1_run), with_state=False)
    name = checkpoint.sampling_network()
    # stage I's text statistics standardise stage II's input (G.text_norm: build_networks')
    norm = {k: v for k, v in checkpoint.weights.items() if k.startswith(f"{name}.text_norm.")}
    weights = {k: v for k, v in checkpoint.weights.items() if k not in norm}
    apply_weights(Checkpoint(checkpoint.path, checkpoint.meta, weights, None), {name: G.stage1})
    if norm and hasattr(G, "text_norm"):
        G.text_norm.load_state_dict({k.rsplit(".", 1)[1]: v for k, v in norm.items()})


class Objective(SharedGeneration):
    """BCE GAN loss with the matching-aware D conditioned on G's mu; G adds KL_WEIGHT * KL."""

    def generate(self, G: nn.Module, batch: Batch, noise: base.Noise) -> Generated:
        fake, mu, logvar = G(noise(len(batch.text)), batch.text, with_condition=True)
        return Generated(fake, mu, logvar)

    def discriminator_loss(self, D: nn.Module, batch: Batch,
                           generated: Generated) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        # D reads G's code of the caption (mu), so the mismatched code is another image's mu
        code = generated.condition.detach()
        per_image = len(batch.mismatched) // len(batch.text)  # --mismatches
        others = mismatch(code, per_image, batch.captions)  # paired by caption, on codes
        differs = differing(code, others)
        real, fake = judge_matching(D, batch.real, generated.images.detach(), code, others)
        if real.unconditional is None:  # stage I
            loss = losses.matching_aware_d_loss(real.logits, real.mismatched, fake.logits, differs)
        else:  # stage II adds the unconditional logit
            loss = losses.matching_aware_d_loss_with_unconditional(
                real.logits, real.unconditional, real.mismatched, fake.logits, fake.unconditional,
                differs)
        return loss, stats(d_real=real.logits, d_wrong=real.mismatched, d_fake=fake.logits)

    def generator_loss(self, G: nn.Module, D: nn.Module, batch: Batch, generated: Generated,
                       noise: base.Noise) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        mu, logvar = generated.condition, generated.logvar
        judged = D(generated.images, mu.detach())
        adversarial = losses.non_saturating_g_loss(judged.logits)
        if judged.unconditional is not None:
            adversarial = adversarial + losses.non_saturating_g_loss(judged.unconditional)
        kl = losses.kl_to_standard_normal(mu, logvar)
        return adversarial + KL_WEIGHT * kl, stats(g_adversarial=adversarial, kl=kl)
