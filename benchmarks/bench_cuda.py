"""Every model on a CUDA device, in fp32 and bf16 autocast: does a short run train, and how fast?

For each model a short run on the procedural data (64x64) checks that the losses stay finite in
both precisions; then DF-GAN at 256x256 (its paper's widths) measures training images/s, the
number that decides what a GPU hour buys. Needs a CUDA device. Usage:

    python benchmarks/bench_cuda.py [--steps 40] [--out bench-runs/cuda]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

SMALL = {"df-gan": dict(ngf=32, ndf=32), "gan-int-cls": dict(), "tac-gan": dict(), "stackgan": dict()}


def run(out: Path, steps: int, precision: str, **settings) -> dict:
    from t2igan.config import TrainConfig
    from t2igan.training.loop import Trainer

    cfg = TrainConfig(device="cuda", precision=precision, num_images=256, batch_size=32, steps=steps, **settings)
    trainer = Trainer(cfg, out, progress=False)
    trainer.train_step()  # warm-up: cuDNN picks its kernels
    torch.cuda.synchronize()
    started = time.perf_counter()
    losses = [trainer.train_step() for _ in range(steps)]
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    finite = all(math.isfinite(v) for row in losses for v in (row["loss_d"], row["loss_g"]))
    return {"images_per_s": round(steps * cfg.batch_size / seconds, 1), "finite": finite,
            "loss_d": round(losses[-1]["loss_d"], 3), "loss_g": round(losses[-1]["loss_g"], 3),
            "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", default="bench-runs/cuda")
    args = parser.parse_args()
    out = Path(args.out)
    print(f"device: {torch.cuda.get_device_name()}")
    print("| model | size | precision | img/s | losses finite | peak GiB |\n| --- | --- | --- | ---: | --- | ---: |")
    jobs = [(m, "64", s) for m, s in SMALL.items()] + [("df-gan", "256", dict())]
    for model, size, settings in jobs:
        for precision in ("fp32", "bf16"):
            torch.cuda.reset_peak_memory_stats()
            row = run(out / f"{model}-{size}-{precision}", args.steps, precision, model=model, image_size=size,
                      **settings)
            print(f"| {model} | {size} | {precision} | {row['images_per_s']} | {row['finite']} | {row['peak_gib']} |",
                  flush=True)
            print(json.dumps({"model": model, "size": size, "precision": precision, **row}), flush=True)


if __name__ == "__main__":
    main()
