"""DF-GAN end to end at 256x256 and 512x384 on the procedural data: train a few CPU minutes, then
generate from typed sentences and score FID/KID against as many held-out renders (--samples).
Grids land in OUT/df-SIZE/{samples,typed.png}, scores in OUT/df-SIZE/eval.md.

    python benchmarks/bench_sizes.py [--minutes 6] [--samples 500] [--out bench-runs]
    python benchmarks/bench_sizes.py --tiny [--out DIR]   (64x64 only, width 4, 2 steps)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmark_tools import cli

SIZES = ["256x256", "512x384"]
MODEL = ["--ngf", 8, "--ndf", 8, "--batch-size", 8, "--num-images", 1000, "--steps", 1_000_000]
TINY = dict(sizes=["64x64"], model=["--ngf", 4, "--ndf", 4, "--nz", 8, "--batch-size", 4,
                                   "--num-images", 16, "--steps", 2])
PROMPTS = ["a ginger cat with green eyes lying on a blue rug",
           "a red pickup truck on a city street at night"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=6.0, help="training budget per size")
    parser.add_argument("--out", help="folder for the runs (default: bench-runs; --tiny: a "
                        "temporary one)")
    parser.add_argument("--samples", type=int, default=500,
                        help="generated images for FID/KID (--tiny: 10)")
    parser.add_argument("--tiny", action="store_true", help="smoke test in seconds")
    args = parser.parse_args()
    sizes, model = (TINY["sizes"], TINY["model"]) if args.tiny else (SIZES, MODEL)
    out = Path(args.out or (tempfile.mkdtemp(prefix="bench-sizes-") if args.tiny else "bench-runs"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for size in sizes:
        run = out / f"df-{size}"
        cli("train", "--model", "df-gan", "--image-size", size, *model, "--sample-every", 50,
            "--checkpoint-every", 50, "--max-minutes", args.minutes, "--out", run)
        cli("generate", "--run", run, *(f for p in PROMPTS for f in ("--prompt", p)), "--num", 4,
            "--out", run / "typed.png")
        cli("evaluate", "--run", run, "--metrics", "fid,kid", "--num-samples",
            10 if args.tiny else args.samples)


if __name__ == "__main__":
    main()
