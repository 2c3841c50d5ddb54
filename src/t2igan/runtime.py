"""The process's runtime choices: which device tensors live on, which number format training
(and sampling, when asked) computes in, and the seed of torch's global random generator (what
weight initialisation and dropout draw from).

`--precision auto` picks the fastest format the hardware runs natively:
- bf16 autocast on CUDA devices that support it and on CPUs with AMX or AVX-512 BF16. Elsewhere
  bf16 is emulated (measured on a 2-core AVX2 CPU: 27x slower than fp32), so auto never picks it;
- fp16 autocast with loss scaling on older CUDA devices;
- fp32 everywhere else.
"""

from __future__ import annotations

import torch

from t2igan.errors import UserError

DEVICES = "auto (CUDA if present), cpu, cuda or cuda:N"
PRECISIONS = ["auto", "fp32", "bf16", "fp16"]
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # what autocast computes in


def native_bf16(device: torch.device) -> bool:
    """Does `device` compute in bf16 in hardware (not by emulation)?"""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    cpu = torch.cpu
    return any(getattr(cpu, probe, lambda: False)()
               for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def choose_precision(requested: str, device: torch.device) -> str:
    """'auto' -> bf16 where native, fp16 on other CUDA devices, fp32 elsewhere; others as given."""
    if requested != "auto":
        return requested
    if native_bf16(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "fp32"


def autocast(precision: str, device: torch.device) -> torch.autocast:
    """Autocast to a chosen precision (fp32, bf16 or fp16) on `device`; fp32: autocast off."""
    dtype = DTYPES[precision]
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


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
