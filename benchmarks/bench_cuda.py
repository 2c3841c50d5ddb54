"""Every model on a CUDA device: training images/s at 64 and 256 px in each precision, eager and
compiled (the 64-px models also in reduce-overhead mode: CUDA graphs), with peak memory and whether
the losses stay finite. benchmarks/gpu_check.sh runs it.

A row is a short run of the real train step on the procedural data after warm-up steps (compiling
happens there: its seconds are the "first step" column). A row that fails prints its error and the
check goes on; rows beyond --budget-minutes are skipped, and said so. Usage:

    python benchmarks/bench_cuda.py [--steps 30] [--precisions fp32,bf16,fp16] [--compile both]
    python benchmarks/bench_cuda.py --tiny   (seconds, on the CPU: the same code runs)
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from benchmark_tools import parse_args

# (model, size, settings): the paper widths at 64 px, DF-GAN and FastGAN also at 256 px
JOBS = [("df-gan", "64", dict(ngf=32, ndf=32)), ("fastgan", "64", dict()),
        ("gan-int-cls", "64", dict()), ("tac-gan", "64", dict()), ("stackgan", "64", dict()),
        ("df-gan", "256", dict(ngf=32, ndf=32, batch_size=16)),
        ("fastgan", "256", dict(batch_size=16))]
# --tiny: these defaults instead (flags given still win); "overrides" go into every TrainConfig.
TINY = dict(steps=2, device="cpu", precisions="fp32", compile="off", budget_minutes=5.0,
            jobs=[("df-gan", "64", dict()), ("gan-int-cls", "64", dict())],
            overrides=dict(num_images=16, batch_size=4, ngf=4, ndf=4, nz=8, text_code=8))


def run(steps: int, precision: str, mode: str | None, device: str, **settings) -> dict:
    """One row: eager (mode None) or compiled in torch.compile's `mode`."""
    from t2igan.config import TrainConfig
    from t2igan.training.loop import Trainer

    compiled = dict(compile=True, compile_mode=mode) if mode else dict(compile=False)
    cfg = TrainConfig(**{"num_images": 256, "batch_size": 32, **settings}, device=device,
                      precision=precision, steps=steps, **compiled)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, Path(out), progress=False)
        cuda = trainer.device.type == "cuda"
        synchronize = torch.cuda.synchronize if cuda else lambda: None
        if cuda:
            torch.cuda.reset_peak_memory_stats(trainer.device)
        started = time.perf_counter()
        for _ in range(2):  # warm-up: cuDNN picks its kernels, compiling happens
            trainer.train_step()
        synchronize()
        warm_up = time.perf_counter() - started
        started = time.perf_counter()
        losses = [trainer.train_step() for _ in range(steps)]
        synchronize()
        seconds = time.perf_counter() - started
    finite = all(math.isfinite(float(row[k])) for row in losses for k in ("loss_d", "loss_g"))
    peak = round(torch.cuda.max_memory_allocated(trainer.device) / 2**30, 2) if cuda else "-"
    return {"images_per_s": round(steps * cfg.batch_size / seconds, 1), "finite": finite,
            "warm_up_s": round(warm_up, 1), "peak_gib": peak}


def compile_modes(size: str) -> list[str]:
    """torch.compile's modes to time at this size: also CUDA graphs (reduce-overhead) for the
    64-px models, whose GPU steps are bound by kernel launches."""
    return ["default", "reduce-overhead"] if size == "64" else ["default"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per row")
    parser.add_argument("--device", default="cuda", help="cuda or cuda:N (--tiny: cpu)")
    parser.add_argument("--precisions", default="fp32,bf16,fp16", help="comma list")
    parser.add_argument("--compile", default="both", choices=["off", "on", "both"],
                        help="rows without torch.compile, with it, or both (compiled rows only in "
                             "the precision --precision auto picks, to keep the check short; the "
                             "64-px models compiled both in default and reduce-overhead mode)")
    parser.add_argument("--budget-minutes", type=float, default=6.0,
                        help="skip the rows that would start after this many minutes")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: tiny models, a few steps, on the CPU")
    parser.set_defaults(overrides={}, jobs=JOBS)
    args = parse_args(parser, TINY)
    from t2igan.runtime import choose_precision

    cuda = args.device.startswith("cuda")
    auto = choose_precision("auto", torch.device(args.device))
    print(f"device: {torch.cuda.get_device_name(args.device) if cuda else args.device}; "
          f"--precision auto picks {auto}; torch {torch.__version__}")
    print("| model | size | precision | compiled | img/s | first 2 steps (s) | losses finite "
          "| peak GiB |\n| --- | --- | --- | --- | ---: | ---: | --- | ---: |")
    rows = [(job, p, None) for job in args.jobs for p in args.precisions.split(",")
            if args.compile != "on"]
    rows += [(job, auto, mode) for job in args.jobs for mode in compile_modes(job[1])
             if args.compile != "off"]
    deadline = time.monotonic() + args.budget_minutes * 60
    for (model, size, settings), precision, mode in rows:
        label = f"| {model} | {size} | {precision} | {mode or 'no'} |"
        if time.monotonic() > deadline:
            print(f"{label} skipped: past --budget-minutes | | | |", flush=True)
            continue
        try:
            row = run(args.steps, precision, mode, args.device, model=model,
                      image_size=size, **{**settings, **args.overrides})
        except Exception as error:  # noqa: BLE001 - a check reports every failure and goes on
            print(f"{label} failed: {type(error).__name__}: {str(error).splitlines()[0][:120]} "
                  "| | | |", flush=True)
            continue
        finally:
            torch._dynamo.reset()  # compiled graphs of one row are no use to the next
        print(f"{label} {row['images_per_s']} | {row['warm_up_s']} | {row['finite']} | "
              f"{row['peak_gib']} |", flush=True)
        print(json.dumps({"model": model, "size": size, "precision": precision,
                          "compiled": mode or "no", **row}), flush=True)


if __name__ == "__main__":
    main()
