"""The process's runtime choices: which device tensors live on, which number format training
(and sampling, when asked) computes in, and the seed of torch's global random generator (what
weight initialisation and dropout draw from).

`--precision auto` picks the fastest format the hardware runs natively:
- bf16 autocast on CUDA devices that support it, and on CPUs with AMX or AVX-512 BF16 where a
  convolution measured at start runs faster in bf16 than in fp32. The instructions alone do not
  decide it: on a 2-core Xeon with AVX-512 BF16 but no AMX, bf16 convolutions ran at 0.8x fp32's
  speed and every training step was slower. Without the instructions bf16 is emulated (measured
  on a 2-core AVX2 CPU: 27x slower than fp32), so auto never picks it there;
- fp16 autocast with loss scaling on older CUDA devices;
- fp32 everywhere else.
"""

from __future__ import annotations

import functools
import time

import torch

from t2igan.errors import UserError

DEVICES = "auto (CUDA if present), cpu, cuda or cuda:N"
PRECISIONS = ["auto", "fp32", "bf16", "fp16"]
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # what autocast computes in
# auto picks bf16 on a CPU only when its convolutions run at least this much faster than fp32's:
# where the two are close, fp32 gives the same images on every machine
CPU_BF16_MIN_SPEEDUP = 1.2


def native_bf16(device: torch.device) -> bool:
    """Does `device` compute in bf16 in hardware (not by emulation)?"""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    cpu = torch.cpu
    return any(getattr(cpu, probe, lambda: False)()
               for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


@functools.cache
def cpu_bf16_speedup() -> float:
    """How many times faster a convolution (forward and backward) runs in bf16 than in fp32 on
    this CPU: the best of five alternating timings of each, about 0.1 s, once per process."""
    numbers = torch.Generator().manual_seed(0)  # not torch's global one: weights draw from that

    def seconds(dtype: torch.dtype) -> float:
        x, w = (torch.randn(shape, generator=numbers).to(dtype, memory_format=torch.channels_last)
                for shape in ((16, 64, 16, 16), (64, 64, 3, 3)))
        x.requires_grad_(), w.requires_grad_()
        start = time.perf_counter()
        y = torch.nn.functional.conv2d(x, w, padding=1)
        y.backward(torch.ones_like(y))
        return time.perf_counter() - start

    times: dict[torch.dtype, list[float]] = {torch.float32: [], torch.bfloat16: []}
    for _ in range(6):  # alternating, so that the machine's drift hits both alike
        for dtype, seen in times.items():
            seen.append(seconds(dtype))
    fp32, bf16 = (min(seen[1:]) for seen in times.values())  # the first call sets kernels up
    return fp32 / bf16


def choose_precision(requested: str, device: torch.device) -> str:
    """'auto' -> bf16 where native (and, on a CPU, measured faster), fp16 on other CUDA devices,
    fp32 elsewhere; others as given."""
    if requested != "auto":
        return requested
    if native_bf16(device) and (device.type == "cuda"
                                or cpu_bf16_speedup() >= CPU_BF16_MIN_SPEEDUP):
        return "bf16"
    return "fp16" if device.type == "cuda" else "fp32"


def why_precision(requested: str, device: torch.device) -> str:
    """Why choose_precision picked what it did, in a few words for the log."""
    if requested != "auto":
        return "as asked"
    if device.type == "cuda":
        return f"auto: {'native' if native_bf16(device) else 'no native'} bf16 on this GPU"
    if not native_bf16(device):
        return "auto: this CPU has no native bf16"
    return f"auto: this CPU's bf16 convolutions run {cpu_bf16_speedup():.1f}x fp32's speed"


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
