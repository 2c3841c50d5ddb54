"""Every model on a CUDA device, in fp32 and bf16 autocast: does a short run train, and how fast?

For each model a short run on the procedural data (64x64) checks that the losses stay finite in
both precisions; then DF-GAN at 256x256 (its paper's widths) measures training images/s, the
number that decides what a GPU hour buys. Needs a CUDA device. Usage:

    python benchmarks/bench_cuda.py [--steps 40] [--out bench-runs/cuda]
    python benchmarks/bench_cuda.py --tiny [--out DIR]   (seconds, on the CPU: the same code runs)
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

SMALL = {"df-gan": dict(ngf=32, ndf=32), "gan-int-cls": dict(), "tac-gan": dict(),
         "stackgan": dict()}
# --tiny: these defaults instead (flags given still win); "overrides" go into every TrainConfig.
TINY = dict(steps=2, out=None, device="cpu", precisions="fp32", big_size="128",
            overrides=dict(num_images=16, batch_size=4, ngf=4, ndf=4, nz=8, text_code=8))


def run(out: Path, steps: int, precision: str, device: str = "cuda", **settings) -> dict:
    from t2igan.config import TrainConfig
    from t2igan.training.loop import Trainer

    cfg = TrainConfig(**{"num_images": 256, "batch_size": 32, **settings}, device=device,
                      precision=precision, steps=steps)
    trainer = Trainer(cfg, out, progress=False)
    cuda = trainer.device.type == "cuda"
    synchronize = torch.cuda.synchronize if cuda else lambda: None
    trainer.train_step()  # warm-up: cuDNN picks its kernels
    synchronize()
    started = time.perf_counter()
    losses = [trainer.train_step() for _ in range(steps)]
    synchronize()
    seconds = time.perf_counter() - started
    finite = all(math.isfinite(v) for row in losses for v in (row["loss_d"], row["loss_g"]))
    peak = round(torch.cuda.max_memory_allocated(trainer.device) / 2**30, 2) if cuda else "-"
    return {"images_per_s": round(steps * cfg.batch_size / seconds, 1), "finite": finite,
            "loss_d": round(losses[-1]["loss_d"], 3), "loss_g": round(losses[-1]["loss_g"], 3),
            "peak_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", default="bench-runs/cuda", help="(--tiny: a temporary folder)")
    parser.add_argument("--device", default="cuda", help="cuda or cuda:N (--tiny: cpu)")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma list (--tiny: fp32)")
    parser.add_argument("--big-size", default="256",
                        help="DF-GAN's throughput run at the paper's widths (--tiny: 128)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: tiny models, a few steps, on the CPU")
    parser.set_defaults(overrides={})
    args = parser.parse_args()
    if args.tiny:
        parser.set_defaults(**TINY)
        args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-cuda-"))
    cuda = args.device.startswith("cuda")
    print(f"device: {torch.cuda.get_device_name(args.device) if cuda else args.device}")
    print("| model | size | precision | img/s | losses finite | peak GiB |\n"
          "| --- | --- | --- | ---: | --- | ---: |")
    jobs = [(m, "64", s) for m, s in SMALL.items()] + [("df-gan", args.big_size, dict())]
    for model, size, settings in jobs:
        for precision in args.precisions.split(","):
            if cuda:
                torch.cuda.reset_peak_memory_stats(args.device)
            row = run(out / f"{model}-{size}-{precision}", args.steps, precision, args.device,
                      model=model, image_size=size, **{**settings, **args.overrides})
            print(f"| {model} | {size} | {precision} | {row['images_per_s']} | {row['finite']} | "
                  f"{row['peak_gib']} |", flush=True)
            print(json.dumps({"model": model, "size": size, "precision": precision, **row}),
                  flush=True)


if __name__ == "__main__":
    main()
