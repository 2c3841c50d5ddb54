"""The model zoo: a registry from method name to its networks, objective and default settings.

Every generator and discriminator follows the contract in t2igan.models.base; every objective the
one in t2igan.models.objective.

A config field left unset (None) takes the model's default, then the common default below, so
`t2igan train --model stackgan` trains with StackGAN's widths and learning rates, and the saved
config.json shows every value that was used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.models import df_gan, fastgan, gan_int_cls, stackgan, tac_gan
from t2igan.models.backbones import FrozenBackbone
from t2igan.models.projected import ProjectedDiscriminator
from t2igan.models.text_norm import standardise_text_inputs

# DCGAN's settings (Radford et al. 2016), which GAN-INT-CLS, StackGAN and TAC-GAN all start from.
COMMON_DEFAULTS: dict[str, Any] = dict(image_size="64", lr=2e-4, beta1=0.5, beta2=0.999, nz=100,
                                       ngf=64, ndf=64, text_code=128, d_backbone="none",
                                       gp_every=1)
# DiffAugment's full policy, which Projected GAN always trains with; no augmentation otherwise
BACKBONE_AUGMENT = "color,translation,cutout"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    sizes: tuple[tuple[int, int], ...]  # (width, height) the model can make
    build: Callable[..., tuple[nn.Module, nn.Module]]  # (text_dim, config, num_classes) -> (G, D)
    # config -> object with discriminator_loss / generator_loss
    objective: Callable[[TrainConfig], Any]
    # the paper's settings for unset config fields
    defaults: dict[str, Any] = field(default_factory=dict)
    needs_labels: bool = False  # trains on a class label per image (--label)
    # with a projected D (--d-backbone), --label adds an auxiliary classifier to it (TAC-GAN's
    # class loss); objectives that do not say so have no class term
    takes_labels: bool = False
    # D judges StackGAN's condition code (text_code wide) in place of the sentence vector
    d_reads_code: bool = False
    # Optional hooks: more defaults computed from the config, and weights to start from
    # before step 0.
    config_defaults: Callable[[TrainConfig], dict[str, Any]] | None = None
    warm_start: Callable[[nn.Module, TrainConfig], None] | None = None

    def check_size(self, size: tuple[int, int]) -> None:
        if size not in self.sizes:
            can = ", ".join(f"{w}x{h}" for w, h in self.sizes)
            raise UserError(f"{self.name} cannot make {size[0]}x{size[1]} images; it makes {can}")


MODELS: dict[str, ModelSpec] = {
    "df-gan": ModelSpec(
        name="df-gan",
        description="Tao et al. 2022 (default on the procedural data): one stage, deep "
                    "text-image fusion blocks, hinge loss + MA-GP",
        sizes=df_gan.SIZES, build=df_gan.build,
        objective=df_gan.objective,
        # MA-GP every 4th step: 14% more steps in 10 CPU minutes, attributes no worse
        # (docs/results.md); --gp-every 1 is the paper's
        defaults=dict(lr=1e-4, lr_d=4e-4, beta1=0.0, beta2=0.9, ngf=32, ndf=32, gp_every=4),
        takes_labels=True),
    "fastgan": ModelSpec(
        name="fastgan",
        description="Liu et al. 2021 / Projected GAN (default on photos): lightweight G "
                    "(skip-layer excitation, text-conditioned norms) against a D on frozen "
                    "EfficientNet-Lite0 features",
        sizes=fastgan.SIZES, build=fastgan.build,
        objective=df_gan.objective,
        # ngf 16 and lr 4e-4 (twice Projected GAN's): measured on cars in 10 CPU minutes
        # (docs/results.md); raise ngf on a GPU
        defaults=dict(lr=4e-4, beta1=0.0, beta2=0.99, ngf=16, ndf=32,
                      d_backbone="efficientnet-lite0"),
        takes_labels=True),
    "stackgan": ModelSpec(
        name="stackgan",
        description="Zhang et al. 2017: conditioning augmentation; stage I 64 px, stage II 256 px "
                    "(--stage 2)",
        sizes=stackgan.SIZES, build=stackgan.build, objective=lambda cfg: stackgan.Objective(),
        defaults=dict(ngf=128, ndf=64), config_defaults=stackgan.stage_defaults,
        warm_start=stackgan.load_stage1, d_reads_code=True),
    "tac-gan": ModelSpec(
        name="tac-gan",
        description="Dash et al. 2017: auxiliary classifier on D (--label); --aux-loss d2d-ce for "
                    "ReACGAN's loss",
        sizes=tac_gan.SIZES, build=tac_gan.build,
        objective=lambda cfg: tac_gan.Objective(),
        defaults=dict(text_code=256), needs_labels=True),
    "gan-int-cls": ModelSpec(
        name="gan-int-cls",
        description="Reed et al. 2016: text-conditioned DCGAN, matching-aware D, interpolated "
                    "text embeddings",
        sizes=gan_int_cls.SIZES, build=gan_int_cls.build,
        objective=lambda cfg: gan_int_cls.Objective()),
}


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name]


def default_model(data: str) -> str:
    """DF-GAN on the procedural renders; on photos, the FastGAN-style G against the D on frozen
    EfficientNet-Lite0 features, which made the most car-like cars in 30 CPU minutes
    (docs/results.md, "Frozen-feature discriminators")."""
    return "df-gan" if data == "synthetic" else "fastgan"


def resolve(cfg: TrainConfig) -> TrainConfig:
    """The config a run trains with: every unset field filled (the model from the data, then the
    model's hook, the model's defaults, the common ones), and the image size one the model
    makes."""
    if cfg.model is None:
        cfg = dataclasses.replace(cfg, model=default_model(cfg.data))
    spec = get_model(cfg.model)
    hooked = spec.config_defaults(cfg) if spec.config_defaults else {}
    defaults = {**COMMON_DEFAULTS, **spec.defaults, **hooked}
    filled = {name: value for name, value in defaults.items() if getattr(cfg, name) is None}
    given_gp_every = cfg.gp_every  # the user's, before the model's default fills it
    cfg = dataclasses.replace(cfg, **filled)
    if cfg.lr_d is None:
        cfg = dataclasses.replace(cfg, lr_d=cfg.lr)
    if cfg.augment is None:
        cfg = dataclasses.replace(cfg, augment="none" if cfg.d_backbone == "none"
                                  else BACKBONE_AUGMENT)
    if cfg.d_input_size is None:
        cfg = dataclasses.replace(cfg, d_input_size=0 if cfg.d_backbone == "none"
                                  else backbone_input_size(cfg.size))
    if cfg.d_backbone != "none" and cfg.model == "stackgan" and cfg.stage == 2:
        raise UserError("--d-backbone works with stackgan's stage I; stage II judges with its own "
                        "D (use --d-backbone none)")
    if cfg.label is None and spec.needs_labels:
        cfg = dataclasses.replace(cfg,
                                  label="subject+color" if cfg.data == "synthetic" else "label")
    if cfg.label is not None:
        check_labels(spec, cfg)
    if spec.objective is not df_gan.objective or cfg.d_backbone != "none":  # no MA-GP here
        if given_gp_every not in (None, 1):
            raise UserError(f"--gp-every: {spec.name} has no MA-GP to space out (df-gan has it, "
                            "with its own D)")
        cfg = dataclasses.replace(cfg, gp_every=1)
    spec.check_size(cfg.size)
    return cfg


def check_labels(spec: ModelSpec, cfg: TrainConfig) -> None:
    """--label trains a class head: TAC-GAN's own, or a projected D's under a model whose
    objective has the class loss. Anywhere else it would be ignored, so it is an error."""
    if spec.needs_labels:
        return
    takers = [name for name, other in MODELS.items() if other.takes_labels]
    if not spec.takes_labels:
        raise UserError(f"--label: {spec.name} has no class loss; tac-gan has one, and so do "
                        f"{' and '.join(takers)} with --d-backbone")
    if cfg.d_backbone == "none":
        raise UserError(f"--label with {spec.name} needs a D on frozen features (--d-backbone "
                        "efficientnet-lite0): its own D has no class head")


def backbone_input_size(size: tuple[int, int]) -> int:
    """The side a frozen backbone reads by default: twice the image's shorter side, at most 224
    (Projected GAN resizes every image below 224 to 224); larger images at their own size. On
    cars at 64 px, 10 CPU minutes: FID 172 reading at 128 px, 213 at 64 px, though each step
    costs twice as much (docs/results.md)."""
    side = min(size)
    return side if side >= 224 else min(2 * side, 224)


def build_networks(text_dim: int, cfg: TrainConfig,
                   num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    """G and D of a resolved config: the model's own pair, or its G against a discriminator on
    frozen pretrained features (--d-backbone), which then takes the model's condition and, for a
    run with labels (--label), a class head."""
    spec = get_model(cfg.model)
    G, D = spec.build(text_dim, cfg, num_classes)
    if cfg.d_backbone != "none":
        condition = cfg.text_code if spec.d_reads_code else text_dim
        D = ProjectedDiscriminator(FrozenBackbone(cfg.d_backbone), cfg.size, condition,
                                   num_classes if cfg.label is not None else 0, cfg.aux_loss,
                                   input_size=cfg.d_input_size)
    if not spec.d_reads_code:  # StackGAN's D reads G's code, made from standardised text
        standardise_text_inputs(D, text_dim, judges=True)
    return standardise_text_inputs(G, text_dim), D


def build_generator(text_dim: int, cfg: TrainConfig, num_classes: int = 0) -> nn.Module:
    """G alone, as build_networks makes it (for sampling: no pretrained backbone loaded)."""
    G, _ = get_model(cfg.model).build(text_dim, cfg, num_classes)
    return standardise_text_inputs(G, text_dim)
