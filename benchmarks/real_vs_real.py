"""The floor of FID, KID, precision and recall: real images against other real images of the same
set, with `t2igan evaluate`'s protocol (the packaged TF FID Inception, clean-fid resize, pool3).

For each set, its held-out images (the procedural test scenes; a prepared cache's validation split)
against --count other real images (procedural training scenes; the cache's training split, all of
it when smaller), the counts at which a run is evaluated with --num-samples 1000. No generator can
do better than these numbers at these counts: FID's bias at small counts shows here, which is why
every FID in the README carries its counts.

    python benchmarks/real_vs_real.py [--count 1000] [--caches CACHE ...]
        (default caches: those bench-photos prepared, where they exist)
    python benchmarks/real_vs_real.py --tiny      (seconds: 6 procedural images a side)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from t2igan.data.cache import CachedImages, is_cache
from t2igan.data.memory import load_into_memory
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.metrics.extractors import extract, load_inception
from t2igan.metrics.fid import fid
from t2igan.metrics.kid import kid
from t2igan.metrics.precision_recall import precision_recall

CACHES = ["bench-runs/photos/cat-breeds-cache", "bench-runs/photos/petimages-cache",
          "bench-runs/cars64"]
SIZE = (64, 64)


def procedural(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The evaluation's real set (test scenes, seed 0) and as many training scenes."""
    held = SyntheticCaptions("test", SIZE, seed=0, length=count)
    other = SyntheticCaptions("train", SIZE, seed=0, length=count)
    return (load_into_memory(held, progress=False).images,
            load_into_memory(other, progress=False).images)


def photos(cache: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A prepared cache's validation split and up to `count` of its training images."""
    return (CachedImages(cache, "val", SIZE).tensors().images,
            CachedImages(cache, "train", SIZE).tensors(count).images)


def floor(extractor, held: torch.Tensor, other: torch.Tensor) -> dict[str, float]:
    a, b = (extract(extractor, images, progress=False)["pool"] for images in (held, other))
    return {"fid": fid(a, b), "kid": kid(a, b)["mean"], **precision_recall(a, b)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000,
                        help="other real images, as generated ones in an evaluation "
                        "(default: 1000, as make demo and the photo benchmarks)")
    parser.add_argument("--caches", nargs="*", default=CACHES,
                        help="prepared 64x64 caches to measure (missing ones are skipped)")
    parser.add_argument("--tiny", action="store_true", help="6 procedural images a side")
    args = parser.parse_args()
    sets = {"procedural cats and cars": lambda: procedural(6 if args.tiny else args.count)}
    for cache in [] if args.tiny else args.caches:
        if is_cache(Path(cache)):
            sets[Path(cache).name.removesuffix("-cache")] = \
                lambda cache=cache: photos(cache, args.count)
    extractor = load_inception()
    print(f"{extractor.network}; clean-fid resize; 64x64 images\n")
    print("| set | held-out vs other real | FID | KID | precision | recall |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, load in sets.items():
        held, other = load()
        r = floor(extractor, held, other)
        print(f"| {name} | {len(held):,} vs {len(other):,} | {r['fid']:.1f} | {r['kid']:.4f} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
