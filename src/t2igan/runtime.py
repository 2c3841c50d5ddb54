"""The process's runtime choices: which device tensors live on, and the seed of torch's global
random generator (what weight initialisation and dropout draw from)."""

from __future__ import annotations

import torch

from t2igan.errors import UserError

DEVICES = "auto (CUDA if present), cpu, cuda or cuda:N"


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else the CPU; a device that is not there is a UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device ({DEVICES})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device is available here")
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name!r}: t2igan runs on {DEVICES}")
    return device


def seed_process(seed: int) -> None:
    """Seed torch's global generator (CPU and every CUDA device): same seed, same initial weights.

    Everything else that is random in t2igan (batches, noise, augmentation, splits) draws from its
    own torch.Generator, saved with checkpoints, so only network construction depends on this."""
    torch.manual_seed(seed)
