"""Typed training configuration. One merge order: defaults < config file < flags given."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2igan.errors import UserError


@dataclass
class TrainConfig:
    data: str = "synthetic"  # "synthetic" or a captioned folder
    model: str = "gan-int-cls"
    image_size: str = "64"  # "S" for S x S, or "WxH"
    steps: int = 10_000  # stop after this many steps (G and D update once each) ...
    max_minutes: float | None = None  # ... or after this much wall-clock time, whichever comes first
    batch_size: int = 64
    lr: float = 2e-4  # Adam learning rate of G (and of D unless lr_d is set)
    lr_d: float | None = None
    beta1: float = 0.5  # DCGAN's Adam betas
    beta2: float = 0.999
    nz: int = 100  # noise dimensions
    ngf: int = 64  # filters of G's last up-sampling layer (earlier layers have multiples)
    ndf: int = 64  # filters of D's first layer
    text_code: int = 128  # sentence vector -> code of this size, in G and in D
    text_encoder: str = "minilm"
    num_images: int = 10_000  # training images to render (synthetic) or to load at most (folder)
    seed: int = 0
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    sample_every: int = 500  # steps between sample grids
    checkpoint_every: int = 500  # steps between checkpoints
    log_every: int = 10  # steps between lines in log.jsonl
    keep_checkpoints: int = 2  # older checkpoints are deleted

    @property
    def size(self) -> tuple[int, int]:
        return parse_size(self.image_size)

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
    positive = ["steps", "batch_size", "nz", "ngf", "ndf", "text_code", "num_images",
                "sample_every", "checkpoint_every", "log_every", "keep_checkpoints"]
    for name in positive:
        if getattr(cfg, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(cfg, name)})")
    if cfg.batch_size < 2:
        raise UserError("--batch-size must be at least 2 (mismatched captions come from other images in the batch)")
    if cfg.lr <= 0 or (cfg.lr_d is not None and cfg.lr_d <= 0):
        raise UserError("learning rates must be positive")
    if cfg.max_minutes is not None and cfg.max_minutes <= 0:
        raise UserError("--max-minutes must be positive")
    if cfg.precision not in ("fp32", "bf16"):
        raise UserError(f"--precision must be fp32 or bf16 (got {cfg.precision!r})")
    parse_size(cfg.image_size)
    return cfg
