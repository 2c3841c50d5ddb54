"""Inception feature extraction speed: before and after t2igan's own pipeline, and its share of
what this machine's CPU can do (its fp32 matrix-multiply rate).

Rows, all on the same images in one run (timings are noisy: compare the ratios):
  - torch-fidelity's extractor as torch-fidelity runs it (NCHW, its own resize inside, batch 50);
  - t2igan before issue 12: clean-fid resize rounded to uint8, then torch-fidelity's forward in
    channels_last, batch 50, one thread doing both;
  - t2igan now: batch norm folded into the convolutions, channels_last, batches of 8, the next
    batch resized in a background thread, at several batch sizes;
  - t2igan now, JPEG files decoded too (the real photos of ../shared/data, when present).
The network's cost is counted by torch's FlopCounterMode at 299x299 (a multiply-add is 2 FLOPs,
as in the matmul rate: 2 n^3 for an n x n product).

    python benchmarks/bench_inception.py [--images 96]
    python benchmarks/bench_inception.py --tiny     (seconds: 4 images, numbers meaningless)
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from t2igan.data.dataset import CaptionedImages
from t2igan.data.memory import load_into_memory
from t2igan.data.sources import open_source
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.metrics import extractors
from t2igan.pretrained import packaged_file

DATA = Path(os.environ.get("T2IGAN_SHARED_DATA",
                          Path(__file__).resolve().parents[2] / "shared" / "data"))
PHOTOS = DATA / "stanford-cars-128x96"


def seconds(work, repeats: int = 1) -> float:
    """The fastest of `repeats` timed calls, after one warm-up call."""
    work()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_rate(n: int = 2048) -> float:
    """GFLOP/s of an fp32 n x n matrix product on this machine's CPU threads."""
    a = torch.randn(n, n)
    return 2 * n ** 3 / seconds(lambda: a @ a, 5) / 1e9


def network_gflop(net: extractors.CleanInception) -> float:
    """GFLOP of one image through the network at 299x299, counted by torch."""
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 3, 299, 299))
    return counter.get_total_flops() / 1e9


def fidelity_extractor(tmp: Path):
    """torch-fidelity's extractor with the packaged network's weights in its layout."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    layout = torch.load(extractors.write_random_weights("clean", tmp / "layout.pth"),
                        weights_only=True)
    script = extractors.load_torchscript(packaged_file("inception-fid")).state_dict()
    torch.save(extractors.torchscript_to_fidelity(script, layout), tmp / "mapped.pth")
    return FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                       feature_extractor_weights_path=str(tmp / "mapped.pth"))


def before_issue_12(net, images: torch.Tensor, batch: int = 50) -> None:
    """t2igan's extraction before issue 12, on the same network."""
    with torch.no_grad():
        for start in range(0, len(images), batch):
            resized = extractors.clean_resize(images[start:start + batch])
            uint8 = resized.round().clamp(0, 255).to(torch.uint8)
            net(uint8.contiguous(memory_format=torch.channels_last))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96, help="images per timed row")
    parser.add_argument("--tiny", action="store_true", help="4 images, one pass: a smoke test")
    args = parser.parse_args()
    count, repeats = (4, 1) if args.tiny else (args.images, 2)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-inception-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)

    renders = SyntheticCaptions("test", (64, 64), seed=0, length=count)
    images = load_into_memory(renders, progress=False).images
    ours = extractors.load_inception()
    fidelity = fidelity_extractor(tmp)
    channels_last = copy.deepcopy(fidelity).to(memory_format=torch.channels_last)
    rows = {
        "torch-fidelity's extractor as it runs (NCHW, batch 50)":
            lambda: [fidelity(images[i:i + 50]) for i in range(0, count, 50)],
        "t2igan before issue 12 (rounded resize, channels_last, batch 50)":
            lambda: before_issue_12(channels_last, images),
    }
    for batch in (4, 8, 16, 32):
        rows[f"t2igan now, batch {batch}" + (" (default)" if batch == ours.batch else "")] = \
            lambda batch=batch: extractors.extract(ours, images, batch, progress=False)
    if PHOTOS.is_dir():
        photos = CaptionedImages(open_source(PHOTOS), (128, 96), fit="pad")
        first = torch.utils.data.Subset(photos, range(min(count, len(photos))))
        rows["t2igan now, JPEG decoding included (128x96 car photos)"] = lambda: extractors.extract(
            ours, load_into_memory(first, progress=False).images, progress=False)

    gflop, rate = network_gflop(ours), matmul_rate()
    print(f"{torch.get_num_threads()} threads; fp32 matmul {rate:.0f} GFLOP/s; network "
          f"{gflop:.2f} GFLOP per image ({gflop / 2:.2f} G multiply-adds); {count} images of "
          "64x64 unless stated\n")
    print("| extraction | images/s | GFLOP/s | share of matmul rate |\n|---|---:|---:|---:|")
    with torch.no_grad():
        for name, work in rows.items():
            speed = count / seconds(work, repeats)
            print(f"| {name} | {speed:.2f} | {speed * gflop:.0f} | {speed * gflop / rate:.0%} |")


if __name__ == "__main__":
    main()
