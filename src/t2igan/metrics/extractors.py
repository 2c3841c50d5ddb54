"""Feature extractors for FID, KID and IS: the Inception networks, from local weight files only.

Two Inception protocols, because the papers' tables mix them (`--fid-mode`):

  clean  TensorFlow's FID Inception (2015-12-05), as torch-fidelity ports it, fed images resized
         to 299x299 with PIL's bicubic filter as clean-fid does (Parmar et al. 2022). Pool3
         features (2048) for FID/KID, the 1008 logits for IS. The modern, comparable protocol.
  dfgan  torchvision's ImageNet Inception-v3, fed the [0, 1] image bilinearly resized to 299x299
         and normalised as DF-GAN's test code does (Tao et al. 2022). Its numbers compare only
         with tables made the same way (DF-GAN, and the papers that copied its test code).

Weights are never downloaded: `--inception-weights FILE`, else $T2IGAN_INCEPTION_WEIGHTS, else the
file under its usual name in torch's hub cache ($TORCH_HOME/hub/checkpoints/).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from t2igan.errors import UserError

INCEPTION_SIZE = 299
WEIGHTS_VARIABLE = "T2IGAN_INCEPTION_WEIGHTS"


@dataclass(frozen=True)
class InceptionMode:
    weights: str  # the file's usual name, as torch.hub caches it
    origin: str  # where a user obtains it
    protocol: str  # one line for the report


MODES = {
    "clean": InceptionMode(
        "weights-inception-2015-12-05-6726825d.pth",
        "torch-fidelity's release v0.2.0 (TensorFlow FID Inception ported to PyTorch)",
        "TF FID Inception 2015-12-05 (torch-fidelity port); clean-fid resize: PIL bicubic to "
        "299x299, rounded to uint8"),
    "dfgan": InceptionMode(
        "inception_v3_google-0cc3c7bd.pth",
        "torchvision's Inception_V3_Weights.IMAGENET1K_V1",
        "torchvision ImageNet Inception-v3; DF-GAN-compatible: [0, 1] image, bilinear resize to "
        "299x299, transform_input normalisation"),
}


class FeatureExtractor(Protocol):
    # what it is, down to its weights' hash: part of every cache key and protocol line
    identity: dict

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """uint8 (B, 3, H, W) -> {"pool": (B, D)} and, for classifiers, {"logits": (B, C)}."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_inception_weights(mode: str, explicit: str | None = None) -> Path:
    """The weights file for `mode`, or a one-line UserError saying which file to put where."""
    name = MODES[mode].weights
    if explicit:
        if not Path(explicit).is_file():
            raise UserError(f"--inception-weights {explicit}: no such file")
        return Path(explicit)
    if os.environ.get(WEIGHTS_VARIABLE):
        path = Path(os.environ[WEIGHTS_VARIABLE])
        if not path.is_file():
            raise UserError(f"${WEIGHTS_VARIABLE}={path}: no such file")
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / name
    if cached.is_file():
        return cached
    raise UserError(f"FID, KID and IS ({mode} mode) need the Inception weights {name} "
                    f"({MODES[mode].origin}); t2igan never downloads: pass --inception-weights "
                    f"FILE, set ${WEIGHTS_VARIABLE}, or put the file in {cached.parent}")


def _clean_resize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> uint8 (B, 3, 299, 299): PIL bicubic on each float channel, as
    clean-fid.

    torch-fidelity's network takes uint8, so the result is rounded; that moves a pixel by at most
    half a level, which changes FID by far less than the sampling noise of any sample count.
    """
    if tuple(images.shape[-2:]) == (INCEPTION_SIZE, INCEPTION_SIZE):
        return images
    size = (INCEPTION_SIZE, INCEPTION_SIZE)
    # one resize per image channel, never per pixel
    channels = [Image.fromarray(c.astype(np.float32), mode="F")
                .resize(size, Image.Resampling.BICUBIC)
                for image in images.numpy() for c in image]
    out = np.stack([np.asarray(c) for c in channels]).reshape(len(images), 3, *size)
    return torch.from_numpy(out.clip(0, 255).round().astype(np.uint8))


class CleanInception:
    def __init__(self, weights: Path) -> None:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        try:
            self.net = FeatureExtractorInceptionV3("inception-v3-compat",
                                                   ["2048", "logits_unbiased"],
                                                   feature_extractor_weights_path=str(weights))
        except Exception as error:  # a pickle of something else, or other keys
            raise UserError(f"{weights} is not {MODES['clean'].weights}: "
                            f"{str(error).splitlines()[0]}") from None
        self.net.to(memory_format=torch.channels_last)  # about 30% faster convolutions on a CPU
        self.identity = {"extractor": "inception-clean", "weights_sha256": file_sha256(weights)}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pool, logits = self.net(_clean_resize(images).contiguous(memory_format=torch.channels_last))
        return {"pool": pool, "logits": logits}


class DFGANInception:
    def __init__(self, weights: Path) -> None:
        from torchvision.models import inception_v3

        # transform_input=True is DF-GAN's normalisation: x * (std / 0.5) + (mean - 0.5) / 0.5 per
        # channel.
        net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
        try:
            net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except Exception as error:
            raise UserError(f"{weights} is not {MODES['dfgan'].weights}: "
                            f"{str(error).splitlines()[0]}") from None
        self.classifier, net.fc = net.fc, torch.nn.Identity()  # the net now ends at the 2048-d pool
        self.net = net.eval().to(memory_format=torch.channels_last)  # about 30% faster on a CPU
        self.identity = {"extractor": "inception-dfgan", "weights_sha256": file_sha256(weights)}

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = F.interpolate(images.float() / 255, size=(INCEPTION_SIZE, INCEPTION_SIZE),
                          mode="bilinear",
                          align_corners=False).contiguous(memory_format=torch.channels_last)
        pool = self.net(x)  # (B, 2048)
        return {"pool": pool, "logits": self.classifier(pool)}


def write_random_weights(mode: str, path: Path) -> Path:
    """A file in the layout of `mode`'s real weights, with random values: for tests and speed
    benchmarks where the real file cannot be had. Features from it measure time, never
    quality."""
    if mode == "clean":
        from unittest import mock

        from torch_fidelity import feature_extractor_inceptionv3 as fidelity

        # Its constructor insists on loading weights: let it load nothing, keep the random init.
        with mock.patch.object(fidelity, "load_state_dict_from_url", return_value=None), \
                mock.patch.object(fidelity.FeatureExtractorInceptionV3, "load_state_dict",
                                  lambda self, state: None):
            state = fidelity.FeatureExtractorInceptionV3("inception-v3-compat",
                                                         ["2048"]).state_dict()
    else:
        from torchvision.models import inception_v3

        state = inception_v3(weights=None, aux_logits=True, init_weights=False).state_dict()
    # He init keeps activations alive through ~95 layers, so that different images give different
    # features, as with real weights.
    for value in state.values():
        if value.dim() == 4:
            torch.nn.init.kaiming_normal_(value, nonlinearity="relu")
    torch.save(state, path)
    return path


def load_inception(mode: str = "clean", weights: str | None = None) -> FeatureExtractor:
    if mode not in MODES:
        raise UserError(f"--fid-mode {mode}: choose one of {', '.join(MODES)}")
    path = find_inception_weights(mode, weights)
    return CleanInception(path) if mode == "clean" else DFGANInception(path)


def extract(extractor: FeatureExtractor, images: torch.Tensor, batch: int = 50,
            progress: bool = True, desc: str = "features") -> dict[str, np.ndarray]:
    """Features of uint8 (N, 3, H, W) images, batch by batch, as float64 arrays."""
    parts: dict[str, list[torch.Tensor]] = {}
    for start in tqdm(range(0, len(images), batch), desc=desc, unit="batch", disable=not progress):
        for name, value in extractor(images[start:start + batch]).items():
            parts.setdefault(name, []).append(value.double().cpu())
    return {name: torch.cat(values).numpy() for name, values in parts.items()}
