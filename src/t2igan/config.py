"""Typed training configuration. One merge order: defaults < config file < flags given."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2igan.data.decode import FITS
from t2igan.data.sources import SourceOptions
from t2igan.errors import UserError
from t2igan.training.augment import parse_policy


@dataclass
class TrainConfig:
    """Every training setting. None means "the model's default" (see t2igan.models.resolve)."""

    data: str = "synthetic"  # "synthetic", a prepared cache, or a dataset in any format of t2igan.data
    format: str = "auto"  # the dataset's format (see t2igan.data.sources.FORMATS); auto detects it
    image_column: str | None = None  # CSV manifests: which columns hold the image file, caption and class
    caption_column: str | None = None
    label_column: str | None = None
    caption_template: str | None = None  # class folders and LMDB: "a photo of a {label}"
    keep_words: str | None = None  # COCO: keep images whose captions have one of these comma-separated words
    captions_file: str | None = None  # LMDB: captions keyed by image key (CSV or JSONL)
    fit: str = "crop"  # how images take the training size: crop | pad | stretch
    model: str = "df-gan"
    image_size: str | None = None  # "S" for S x S, or "WxH"
    steps: int = 10_000  # stop after this many steps (G and D update once each) ...
    max_minutes: float | None = None  # ... or after this much wall-clock time, whichever comes first
    batch_size: int = 64
    lr: float | None = None  # Adam learning rate of G
    lr_d: float | None = None  # ... and of D (default: the model's, else lr)
    beta1: float | None = None  # Adam betas
    beta2: float | None = None
    nz: int | None = None  # noise dimensions
    ngf: int | None = None  # G's width (its meaning per model: `t2igan train --help`)
    ndf: int | None = None  # D's first-layer filters
    text_code: int | None = None  # sentence vector -> code of this size (GAN-INT-CLS, TAC-GAN; StackGAN's CA)
    text_encoder: str = "minilm"
    num_images: int = 10_000  # training images to render (synthetic) or to load at most (folder)
    ema_decay: float = 0.999  # EMA of G's weights, used for samples and evaluation; 0 turns it off
    stage: int = 1  # StackGAN's stage: 1 (64 px) or 2 (256 px, on a frozen stage-I run)
    stage1_run: str | None = None  # StackGAN stage II: the stage-I run folder
    label: str | None = None  # TAC-GAN's class: attribute names joined by "+" (synthetic: subject+color)
    aux_loss: str = "ac"  # TAC-GAN's class loss: ac (cross-entropy) | d2d-ce (ReACGAN)
    mode_seeking: float = 0.0  # weight of MSGAN's mode-seeking term in G's loss; 0 turns it off
    augment: str = "none"  # differentiable augmentation of D's inputs: none or a policy such as color,translation,cutout
    seed: int = 0
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    sample_every: int = 500  # steps between sample grids
    checkpoint_every: int = 500  # steps between checkpoints
    log_every: int = 10  # steps between lines in log.jsonl
    keep_checkpoints: int = 2  # older checkpoints are deleted
    eval_every: int = 0  # steps between evaluations logged to log.jsonl; 0 turns them off
    eval_metrics: str = "cheap"  # "cheap" (those that run in seconds here) or a comma list of metric names
    eval_samples: int = 1000  # generated images per evaluation during training
    eval_encoder: str | None = None  # DAMSM folder for R-precision and domain FID during training

    @property
    def size(self) -> tuple[int, int]:
        return parse_size(self.image_size)

    def source_options(self) -> SourceOptions:
        return SourceOptions(**{f.name: getattr(self, f.name) for f in dataclasses.fields(SourceOptions)})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def parse_size(text: str | int) -> tuple[int, int]:
    """'64' -> (64, 64); '512x384' -> (512, 384) as (width, height)."""
    parts = str(text).lower().split("x")
    try:
        width, height = (int(parts[0]), int(parts[0])) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    except ValueError:
        raise UserError(f"image size {text!r} is not S or WxH (e.g. 64 or 512x384)") from None
    if len(parts) > 2 or width < 8 or height < 8:
        raise UserError(f"image size {text!r} is not S or WxH with sides of at least 8 pixels")
    return width, height


def merge(base: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    unknown = set(overrides) - FIELDS
    if unknown:
        raise UserError(f"unknown config keys: {', '.join(sorted(unknown))}")
    return dataclasses.replace(base, **overrides)


def load_config_file(path: str | Path) -> dict[str, Any]:
    try:
        values = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"config file {path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise UserError(f"config file {path} must hold a JSON object")
    return values


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check a resolved config (no None left in the model settings); raise UserError on the first problem."""
    positive = ["steps", "batch_size", "nz", "ngf", "ndf", "text_code", "num_images",
                "sample_every", "checkpoint_every", "log_every", "keep_checkpoints"]
    for name in positive:
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(cfg, name)})")
    if cfg.batch_size < 2:
        raise UserError("--batch-size must be at least 2 (mismatched captions come from other images in the batch)")
    if cfg.lr <= 0 or (cfg.lr_d is not None and cfg.lr_d <= 0):
        raise UserError("learning rates must be positive")
    if not (0 <= cfg.beta1 < 1 and 0 <= cfg.beta2 < 1):
        raise UserError(f"Adam betas must be in [0, 1) (got {cfg.beta1}, {cfg.beta2})")
    if cfg.max_minutes is not None and cfg.max_minutes <= 0:
        raise UserError("--max-minutes must be positive")
    if cfg.mode_seeking < 0:
        raise UserError(f"--mode-seeking must be 0 (off) or positive (got {cfg.mode_seeking})")
    if not 0 <= cfg.ema_decay < 1:
        raise UserError(f"--ema-decay must be in [0, 1) (got {cfg.ema_decay}); 0 turns the EMA off")
    if cfg.stage not in (1, 2):
        raise UserError(f"--stage must be 1 or 2 (got {cfg.stage})")
    if cfg.aux_loss not in ("ac", "d2d-ce"):
        raise UserError(f"--aux-loss must be ac or d2d-ce (got {cfg.aux_loss!r})")
    if cfg.precision not in ("fp32", "bf16"):
        raise UserError(f"--precision must be fp32 or bf16 (got {cfg.precision!r})")
    if cfg.fit not in FITS:
        raise UserError(f"--fit must be one of {', '.join(FITS)} (got {cfg.fit!r})")
    parse_policy(cfg.augment)
    parse_size(cfg.image_size)
    _validate_evaluation(cfg)
    return cfg


def _validate_evaluation(cfg: TrainConfig) -> None:
    """Fail at step 0, not at the first evaluation minutes later."""
    if cfg.eval_every < 0:
        raise UserError(f"--eval-every must be 0 (off) or positive (got {cfg.eval_every})")
    if not cfg.eval_every:
        return
    if cfg.eval_samples < 10:
        raise UserError(f"--eval-samples must be at least 10 (got {cfg.eval_samples})")
    from t2igan.evaluation.evaluate import training_metrics
    from t2igan.metrics.context import missing_requirement
    from t2igan.metrics.registry import METRICS

    if cfg.eval_encoder is not None:
        from t2igan.text.damsm import load_damsm

        load_damsm(cfg.eval_encoder)  # a one-line error now if it is not an encoder folder
    names, settings, skip_unavailable = training_metrics(cfg)
    for name in [] if skip_unavailable else names:
        why = missing_requirement(METRICS[name].requires, settings, cfg.data == "synthetic", "--eval-encoder")
        if why:
            raise UserError(f"--eval-metrics {name}: {why}")
