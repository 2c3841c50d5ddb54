"""The settings of a training run and of DAMSM pretraining: values only, each described once.

Every field says what it means, where `--help` lists it, which values it takes and how it is
checked (t2igan.settings); the command line is made from these classes. One merge order:
defaults < config file < flags given. A field left None takes the model's default
(t2igan.models.resolve), so the saved config.json shows every value a run used.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from t2igan.augment import parse_policy
from t2igan.data.decode import FITS
from t2igan.data.sources import SourceOptions
from t2igan.errors import UserError
from t2igan.pretrained import IMAGENET_NETWORKS
from t2igan.runtime import PRECISIONS
from t2igan.settings import a_seed, between, fraction, setting
from t2igan.text.encoder import ENCODERS

Settings = TypeVar("Settings")
BACKBONES = ["none", *IMAGENET_NETWORKS]  # --d-backbone's choices
MAX_SIDE = 4096  # pixels: past every model's sizes (`t2igan models`), far below an int's range
# Ranges of counts that have no natural upper bound: past any run, they catch a typo or an overflow
# before it reaches an allocator or a C library.
STEPS = between(1, 10**9)
MINUTES = between(0, 10**7, above=True)  # about 19 years
WIDTH = between(1, 1024)  # nz, ngf, ndf and the text code: the zoo uses 16 to 256
BATCH = between(2, 65_536)
RATE = between(0, 1, above=True)  # a learning rate
COMPILE_MODES = ["default", "reduce-overhead", "max-autotune"]  # torch.compile(mode=...)


def parse_size(text: str | int) -> tuple[int, int]:
    """'64' -> (64, 64); '512x384' -> (512, 384) as (width, height)."""
    parts = str(text).lower().split("x")
    try:
        width, height = ((int(parts[0]), int(parts[0])) if len(parts) == 1
                         else (int(parts[0]), int(parts[1])))
    except ValueError:
        raise UserError(f"image size {text!r} is not S or WxH (e.g. 64 or 512x384)") from None
    if len(parts) > 2 or not (8 <= width <= MAX_SIDE and 8 <= height <= MAX_SIDE):
        raise UserError(f"image size {text!r} is not S or WxH with sides of 8 to {MAX_SIDE:,} "
                        "pixels")
    return width, height


def _size(text: str) -> str | None:
    try:
        parse_size(text)
    except UserError:
        return f"is not S or WxH (e.g. 64 or 512x384) with sides of 8 to {MAX_SIDE:,} pixels"
    return None


def _augment(text: str) -> str | None:
    parse_policy(text)
    return None


@dataclass
class DataSettings(SourceOptions):
    """Which images and captions, and how they are read (the SourceOptions flags, plus these)."""

    data: str = setting("synthetic", "'synthetic' (procedural captioned cats and cars), a cache "
                        "from `t2igan data prepare`, or a dataset folder or manifest in any "
                        "format (README: 'Your own data')", group="data")
    fit: str = setting("crop", "how images take the training size: crop (centre, no distortion), "
                       "pad (black bars, all in view) or stretch", group="data", choices=FITS)
    num_images: int = setting(10_000, "training images: rendered (synthetic) or read at most "
                              "(folder)", group="data", check=between(1, 10**9))


@dataclass
class TrainConfig(DataSettings):
    """Every setting of a training run (`t2igan train --help` lists them by group)."""

    # -- the model: None is the model's paper setting (`t2igan models`) --------------------------
    model: str | None = setting(None, "method to train; `t2igan models` lists them with their "
                                "sizes (default: df-gan on the procedural data, fastgan on "
                                "photos)", group="model")
    image_size: str | None = setting(None, "S for SxS or WxH, e.g. 64 or 512x384 (default: 64; "
                                     "StackGAN stage II: 256)", group="model", check=_size)
    nz: int | None = setting(None, "noise dimensions (default: 100)",
                             group="model", check=WIDTH)
    ngf: int | None = setting(None, "G's width: the filters of its last layer (DF-GAN 32, "
                              "GAN-INT-CLS and TAC-GAN 64) or StackGAN's GF_DIM (128); coarser "
                              "layers have up to 8x as many", group="model", check=WIDTH)
    ndf: int | None = setting(None, "D's first-layer filters (DF-GAN 32, others 64); deeper "
                              "layers have up to 8x as many", group="model", check=WIDTH)
    text_code: int | None = setting(None, "size of the code the sentence vector becomes: "
                                    "GAN-INT-CLS 128, TAC-GAN 256, StackGAN's CA 128 (DF-GAN uses "
                                    "the sentence vector itself)", group="model", check=WIDTH)
    text_encoder: str = setting("minilm", "sentence encoder (minilm: all-MiniLM-L6-v2, pretrained "
                                "and frozen)", group="model", choices=list(ENCODERS))
    stage: int = setting(1, "StackGAN's stage: 1 (64 px) or 2 (256 px on top of a frozen stage-I "
                         "run)", group="model", choices=[1, 2])
    stage1_run: str | None = setting(None, "StackGAN stage 2: the run folder of the trained "
                                     "stage I", group="model")
    label: str | None = setting(None, "class per image for an auxiliary classifier in D "
                                "(TAC-GAN; df-gan and fastgan with --d-backbone): attribute names "
                                "joined by + (synthetic: subject+color; folders: label)",
                                group="model")
    d_backbone: str | None = setting(None, "frozen pretrained ImageNet network under D, with "
                                     "trainable heads at 4 scales (Projected GAN): "
                                     "efficientnet-lite0/1/2 or mobilenet-v2; none: the model's "
                                     "own D (default: none; fastgan: efficientnet-lite0)",
                                     group="model", choices=BACKBONES)
    d_input_size: int | None = setting(None, "the side the frozen backbone reads: images are "
                                       "resized (bilinear) so that their shorter side is this "
                                       "(default: twice theirs, at most 224, the size Projected "
                                       "GAN reads; 0: their own size and heads down to 4x4, as "
                                       "runs from before this setting)",
                                       group="model", check=between(0, 1024))
    init_from: str | None = setting(None, "start from another run's latest weights (G, D, EMA; "
                                    "new optimiser state), e.g. a cats run fine-tuned on cars; "
                                    "model, sizes and text encoder must match", group="model")
    aux_loss: str = setting("ac", "TAC-GAN's class loss: ac (AC-GAN cross-entropy) or d2d-ce "
                            "(ReACGAN)", group="model", choices=["ac", "d2d-ce"])

    # -- optimisation ---------------------------------------------------------------------------
    steps: int = setting(10_000, "stop after this many steps (one D and one G update each)",
                         group="optimisation", check=STEPS)
    max_minutes: float | None = setting(None, "also stop after this many minutes of training, "
                                        "whichever comes first",
                                        group="optimisation", check=MINUTES)
    batch_size: int = setting(64, "images per step (at least 2: mismatched captions come from "
                              "other images in the batch)", group="optimisation", check=BATCH)
    lr: float | None = setting(None, "Adam learning rate of G (DF-GAN: 1e-4; fastgan: 4e-4; "
                               "others: 2e-4)", group="optimisation", check=RATE)
    lr_d: float | None = setting(None, "Adam learning rate of D (DF-GAN: 4e-4; others: --lr)",
                                 group="optimisation", check=RATE)
    beta1: float | None = setting(None, "Adam beta1 (DF-GAN: 0.0; others: 0.5)",
                                  group="optimisation", check=fraction)
    beta2: float | None = setting(None, "Adam beta2 (DF-GAN: 0.9; others: 0.999)",
                                  group="optimisation", check=fraction)
    ema_decay: float = setting(0.999, "decay of the moving average of G's weights that samples "
                               "and is evaluated; 0 turns it off",
                               group="optimisation", check=fraction)
    mode_seeking: float = setting(0.0, "weight of MSGAN's mode-seeking term (Mao et al. 2019) in "
                                  "G's loss: against a G that ignores its noise and makes one "
                                  "image per caption; 1 is the paper's; 0 turns it off",
                                  group="optimisation", check=between(0, 1000))
    mismatches: int = setting(1, "other captions each real image is judged with in D's "
                              "matching-aware term, the batch's next ones (the papers': 1); the "
                              "image's features are computed once, so more cost little (the "
                              "demo's: 4; docs/models.md)", group="optimisation",
                              check=between(1, 64), metavar="K")
    gp_every: int | None = setting(None, "DF-GAN's MA-GP on every Nth step only, N times as "
                                   "strong (StyleGAN2's lazy regularisation): its second "
                                   "backward pass through D costs 28%% of a step (default: 4; "
                                   "1 is the paper's)",
                            group="optimisation", check=between(1, 1000), metavar="N")
    augment: str | None = setting(None, "DiffAugment of D's inputs for small datasets: none, "
                                  "or a comma list of color, translation, cutout (default: "
                                  "none; with --d-backbone all three, as Projected GAN)",
                                  group="optimisation", check=_augment)
    seed: int = setting(0, "seed of data, weights, noise and batches: same seed, same run",
                        group="optimisation", check=a_seed)
    precision: str = setting("auto", "auto: bf16 autocast where the hardware runs it natively "
                             "(recent GPUs; CPUs with AMX or AVX-512 BF16 whose bf16 convolutions "
                             "time faster at start), fp16 with loss scaling on older GPUs, fp32 "
                             "elsewhere; or fp32, bf16, fp16 (bf16 on a CPU without it is "
                             "emulated, ~25x slower)",
                             group="optimisation", choices=PRECISIONS)
    compile: bool = setting(False, "torch.compile G and D (D not under MA-GP): off by default, as "
                            "measured on a 2-core CPU it is no faster after a 90 s warm-up; "
                            "benchmarks/gpu_check.sh measures it on a GPU",
                            group="optimisation")
    compile_mode: str = setting("default", "torch.compile's mode with --compile: reduce-overhead "
                                "replays the step's kernels as CUDA graphs, for the small 64-px "
                                "models whose GPU steps are bound by kernel launches",
                                group="optimisation", choices=COMPILE_MODES)
    device: str = setting("auto", "auto (CUDA if present), cpu, cuda or cuda:N",
                          group="optimisation")

    # -- the run folder -------------------------------------------------------------------------
    sample_every: int = setting(500, "steps between sample grids in RUN/samples",
                                group="output", check=STEPS)
    checkpoint_every: int = setting(500, "steps between checkpoints in RUN/checkpoints",
                                    group="output", check=STEPS)
    log_every: int = setting(10, "steps between lines of RUN/log.jsonl",
                             group="output", check=STEPS)
    tensorboard: bool = setting(False, "also log losses, images/s, sample grids and evaluations "
                                "to RUN/tensorboard (`tensorboard --logdir RUN`)", group="output")
    keep_checkpoints: int = setting(2, "how many recent checkpoints to keep",
                                    group="output", check=between(1, 10**6))

    # -- evaluation during training (t2igan.training.evaluation) ---------------------------------
    eval_every: int = setting(0, "steps between evaluations of the EMA generator, logged to "
                              "RUN/log.jsonl; 0 turns them off",
                              group="evaluation", check=between(0, 10**9))
    eval_metrics: str = setting("cheap", "metrics of those evaluations: cheap (MS-SSIM; "
                                "attributes on the procedural data; R-precision and domain FID "
                                "with --eval-encoder) or a comma list, e.g. "
                                "fid,kid,ms-ssim (FID/KID at --eval-samples images: ~2 min "
                                "per 1,000 on 2 CPU cores; see `t2igan evaluate --help`)",
                                group="evaluation")
    eval_samples: int = setting(1000, "generated images per evaluation during training",
                                group="evaluation", check=between(10, 100_000))
    eval_encoder: str | None = setting(None, "DAMSM encoder from `t2igan text pretrain` for "
                                       "R-precision and domain FID during training",
                                       group="evaluation")

    @property
    def size(self) -> tuple[int, int]:
        return parse_size(self.image_size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def saved(cls, values: dict[str, Any]) -> TrainConfig:
        """A run's saved config (config.json, a checkpoint's meta): a setting it lacks was added
        after the run was made, and takes the value such runs trained with."""
        return cls(**{**SAVED_BEFORE_SETTING, **values})


# settings added after runs were saved without them -> the behaviour those runs had
SAVED_BEFORE_SETTING = {"d_input_size": 0, "gp_every": 1}


@dataclass
class PretrainConfig(DataSettings):
    """Every setting of `t2igan text pretrain` (AttnGAN's DAMSM recipe by default)."""

    image_size: str = setting("64", "S for SxS or WxH: the size the image encoder sees; match the "
                              "generator's", group="model", check=_size)
    label: str | None = setting(None, "attributes whose equal values are not negatives, joined by "
                                "+ (e.g. subject+color); default: every other image is a negative",
                                group="model")
    epochs: int = setting(20, "passes over the training images",
                          group="optimisation", check=between(1, 10**6))
    batch_size: int = setting(48, "images per step; the others in a batch are the negatives (48, "
                              "as AttnGAN)", group="optimisation", check=BATCH)
    lr: float = setting(2e-3, "Adam learning rate, x0.98 each epoch",
                        group="optimisation", check=RATE)
    max_minutes: float | None = setting(None, "also stop after this many minutes of training",
                                        group="optimisation", check=MINUTES)
    seed: int = setting(0, "seed of the split, weights and batches", group="optimisation",
                        check=a_seed)

    @property
    def size(self) -> tuple[int, int]:
        return parse_size(self.image_size)


def merge(base: Settings, overrides: dict[str, Any]) -> Settings:
    """`base` with the given fields replaced (unknown keys are an error), checked."""
    known = {f.name for f in dataclasses.fields(base)}
    unknown = set(overrides) - known
    if unknown:
        raise UserError(f"unknown config keys: {', '.join(sorted(unknown))}")
    return dataclasses.replace(base, **overrides)


def load_config_file(path: str | Path) -> dict[str, Any]:
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"config file {path} does not exist") from None
    except (OSError, ValueError, RecursionError) as error:
        # ValueError: not JSON, not UTF-8, or an integer of more than 4,300 digits;
        # RecursionError: arrays nested thousands deep
        raise UserError(f"config file {path} is not valid JSON: "
                        f"{str(error).splitlines()[0][:200]}") from None
    if not isinstance(values, dict):
        raise UserError(f"config file {path} must hold a JSON object")
    return values
