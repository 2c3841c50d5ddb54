"""Images per second of the synthetic-scene renderer (pure Pillow, one core) at the toolkit's sizes.

Run: python benchmarks/bench_renderer.py [--seconds 2]   (--tiny: 0.01 s per size)
"""

from __future__ import annotations

import argparse
import random
import time

from benchmark_tools import parse_args
from t2igan.data.synthetic import render, sample_attributes

SIZES = ((64, 64), (256, 256), (512, 384))
TINY = dict(seconds=0.01)  # --tiny: these defaults instead (flags given still win)


def images_per_second(size: tuple[int, int], seconds: float) -> float:
    """Render fresh random scenes for about `seconds`; attribute sampling is not timed."""
    rng = random.Random(0)
    scenes = [sample_attributes(rng) for _ in range(256)]
    render(scenes[0], size)  # warm-up: first-call imports and allocations
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        render(scenes[count % len(scenes)], size)
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent per size")
    parser.add_argument("--tiny", action="store_true", help="smoke test: 0.01 s per size")
    args = parse_args(parser, TINY)
    print(f"{'size (WxH)':>12}  {'images/s':>9}  {'ms/image':>9}")
    for width, height in SIZES:
        rate = images_per_second((width, height), args.seconds)
        print(f"{f'{width}x{height}':>12}  {rate:9.0f}  {1000 / rate:9.2f}")


if __name__ == "__main__":
    main()
