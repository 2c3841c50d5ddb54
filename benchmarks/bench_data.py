"""Data pipeline speed: preparing a cache, checking a source, and feeding batches from the cache.

Targets (issue 4): preparing the 6,184 cars of ../shared/data/stanford-cars-128x96 in under a
minute; reading a 64x64 cache at 2,000 images/s or more from one core. "Feeding" is what the
trainer does per step: index a random batch of the memory map and convert it to model floats.
Usage:

    python benchmarks/bench_data.py [--source ../shared/data/stanford-cars-128x96] \\
        [--out bench-runs/data]
    python benchmarks/bench_data.py --tiny [--out DIR]  (seconds, a stand-in in the cars' layout)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from benchmark_tools import parse_args

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "stanford-cars-128x96"
# --tiny: these defaults instead (flags given still win); without --source, procedural images in
# the layout of stanford-cars-128x96 (benchmark_tools.py), written into --out.
TINY = dict(source=None, out=None, seconds=0.1)


def feed_rate(cache: Path, batch: int = 64, seconds: float = 3.0) -> float:
    """Images/s of random batches, memory map -> channels-last float in [-1, 1], on one thread."""
    from t2igan.data.cache import CachedImages
    from t2igan.images import to_model

    images = CachedImages(cache, "train").tensors().images
    generator = torch.Generator().manual_seed(0)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        index = torch.randint(len(images), (batch,), generator=generator)
        to_model(images[index]).contiguous(memory_format=torch.channels_last)
        done += batch
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=str(DEFAULT_SOURCE))
    parser.add_argument("--out", default="bench-runs/data",
                        help="emptied first (--tiny: a temporary folder)")
    parser.add_argument("--seconds", type=float, default=3.0, help="feeding time per cache")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: every step on a small stand-in source")
    args = parse_args(parser, TINY)
    from t2igan.data.prepare import check_source, prepare_cache
    from t2igan.data.sources import open_source

    out = Path(args.out or tempfile.mkdtemp(prefix="bench-data-"))
    if args.source and not Path(args.source).exists():
        raise SystemExit(f"{args.source} is absent: pass --source DATASET")
    shutil.rmtree(out, ignore_errors=True)
    if args.source is None:
        from benchmark_tools import cars_like

        args.source = cars_like(out / "stand-in")
    source_path = Path(args.source)
    torch.set_num_threads(1)  # "from one core": the feed must not need the cores training uses
    print(f"source: {source_path}\n\n| step | size | images | seconds | images/s |\n"
          "| --- | --- | ---: | ---: | ---: |")
    started = time.perf_counter()
    scanned = open_source(source_path)
    seconds = time.perf_counter() - started
    print(f"| scan ({scanned.format}) | - | {len(scanned.entries)} | {seconds:.2f} | "
          f"{len(scanned.entries) / seconds:.0f} |")
    started = time.perf_counter()
    report = check_source(open_source(source_path), progress=False)
    seconds = time.perf_counter() - started
    print(f"| check (decode all, 2 workers) | - | {report['usable_images']} | {seconds:.1f} | "
          f"{report['usable_images'] / seconds:.0f} |")
    for size, fit in (((64, 64), "pad"), ((128, 96), "crop")):
        cache = out / f"{size[0]}x{size[1]}"
        started = time.perf_counter()
        info = prepare_cache(open_source(source_path), cache, size, fit, progress=False)
        seconds = time.perf_counter() - started
        shown = f"{size[0]}x{size[1]}"
        print(f"| prepare (--fit {fit}, captions embedded) | {shown} | {info['count']} | "
              f"{seconds:.1f} | {info['count'] / seconds:.0f} |")
        print(f"| feed random batches of 64, 1 thread | {shown} | - | {args.seconds:g} | "
              f"{feed_rate(cache, seconds=args.seconds):.0f} |")


if __name__ == "__main__":
    main()
