"""Evaluation speed on this machine, and what the project-trained metrics say about real images.

1. Feature extraction, images/s, for each extractor (64x64 inputs): the two Inception protocols
   (random weights in the real files' layouts: the real files cannot be had offline, and speed does
   not depend on the values), the DAMSM image encoder, the attribute classifier; MS-SSIM pairs/s.
2. Time of `t2igan evaluate` on a run at 1,000 samples with every metric that runs here (Inception
   ones on the random-layout weights: their values are meaningless, their time is real) and at
   10,000 samples without the Inception metrics; the Inception share at 10,000 (and the papers'
   30,000) is computed from the measured images/s and printed as such.
3. The DAMSM metrics on real images (held-out renders against their own captions), beside the run:
   the ceiling R-precision can reach with this encoder, and the domain FID of real vs real.

Usage: python benchmarks/bench_metrics.py [--out bench-runs/metrics] (trains a 3-minute run and a
3-minute encoder there first if missing; ~30 min on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from t2igan.config import TrainConfig
from t2igan.data.memory import load_into_memory
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.evaluation.attributes import attribute_classifier, predict
from t2igan.evaluation.evaluate import evaluate_run
from t2igan.metrics import extractors
from t2igan.metrics.context import DomainFeatures, EvalSettings
from t2igan.metrics.fid import fid
from t2igan.metrics.ms_ssim import ms_ssim
from t2igan.metrics.r_precision import r_precision
from t2igan.text.damsm import load_damsm
from t2igan.text.pretrain import pretrain_damsm
from t2igan.training.loop import train

RUN_CONFIG = dict(model="gan-int-cls", image_size="64", ngf=16, ndf=16, batch_size=32, lr=4e-4, num_images=3000,
                  steps=1_000_000, max_minutes=3.0, sample_every=10_000, checkpoint_every=10_000)
CHEAP = ["ms-ssim", "r-precision", "domain-fid", "attributes"]


def timed(work) -> tuple[object, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def rate(count: int, work) -> float:
    work(2)  # warm-up: first-call allocations and kernel choices
    return count / timed(lambda: work(count))[1]


def extraction_speeds(images: torch.Tensor, weights: dict[str, Path], encoder: Path) -> dict[str, float]:
    speeds = {}
    for mode in extractors.MODES:
        net = extractors.load_inception(mode, str(weights[mode]))
        speeds[f"Inception, {mode} mode (299x299)"] = rate(32, lambda n: extractors.extract(net, images[:n], progress=False))
    domain = DomainFeatures(load_damsm(encoder))
    speeds["DAMSM image encoder"] = rate(2000, lambda n: domain(images[:n]))
    net, _ = attribute_classifier(progress=False)
    speeds["attribute classifier"] = rate(2000, lambda n: predict(net, images[:n]))
    speeds["MS-SSIM (pairs/s)"] = rate(500, lambda n: ms_ssim(images[:n], images.flip(0)[:n]))
    return speeds


def real_ceiling(encoder: Path, count: int = 2000) -> dict[str, float]:
    """DAMSM metrics on real held-out renders: what a perfect generator would score."""
    damsm = load_damsm(encoder)
    test = load_into_memory(SyntheticCaptions("test", (64, 64), seed=0, length=2 * count), progress=False)
    captions = [caps[0] for caps in test.captions[:count]]
    codes = DomainFeatures(damsm)(test.images)["pool"]
    return {"r_precision_real": r_precision(damsm.encode_images(test.images[:count]), damsm.encode_texts(captions))["mean"],
            "domain_fid_real_vs_real": fid(codes[:count], codes[count:])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench-runs/metrics")
    args = parser.parse_args()
    out = Path(args.out)
    run, encoder = out / "run", out / "damsm"
    if not (run / "config.json").is_file():
        train(TrainConfig(**RUN_CONFIG), run, progress=False)
    if not (encoder / "damsm.json").is_file():
        pretrain_damsm("synthetic", encoder, max_minutes=3.0, progress=False)
    weights = {mode: extractors.write_random_weights(mode, out / spec.weights) for mode, spec in extractors.MODES.items()}
    images = SyntheticCaptions("test", (64, 64), seed=1, length=2000)
    images = load_into_memory(images, progress=False).images

    speeds = extraction_speeds(images, weights, encoder)
    print("| extractor (64x64 input, 2 CPU cores) | images/s |\n|---|---:|")
    for name, value in speeds.items():
        print(f"| {name} | {value:,.1f} |")

    settings = EvalSettings(encoder=str(encoder), inception_weights=str(weights["clean"]), progress=False)
    times = {}
    report, times["1,000 samples, all metrics that run here"] = timed(lambda: evaluate_run(run, None, 1000, settings))
    _, times["10,000 samples, without FID/IS/KID"] = timed(lambda: evaluate_run(run, CHEAP, 10_000, settings))
    inception = speeds["Inception, clean mode (299x299)"]
    print("\n| evaluation of a 64x64 GAN-INT-CLS run | minutes |\n|---|---:|")
    for name, seconds in times.items():
        print(f"| {name} (measured) | {seconds / 60:.1f} |")
    for samples in (10_000, 30_000):  # generated plus as many real images, once: the real ones are cached after
        print(f"| Inception features of {samples:,} generated + {samples:,} real images (computed from "
              f"{inception:.1f} img/s) | {2 * samples / inception / 60:.0f} |")
    ceiling = real_ceiling(encoder)
    scores = {name: r["value"] for name, r in report["metrics"].items()}
    print("\n| DAMSM metric (encoder trained 3 min on the procedural data) | real renders | the 3-min run |\n|---|---:|---:|")
    print(f"| R-precision (top-1 of 100) | {ceiling['r_precision_real']:.3f} | {scores['r-precision']:.3f} |")
    print(f"| domain FID | {ceiling['domain_fid_real_vs_real']:.4f} (real vs real) | {scores['domain-fid']:.4f} |")
    (out / "results.json").write_text(json.dumps({"speeds": speeds, "seconds": times, "ceiling": ceiling,
                                                  "run_scores": scores}, indent=2))


if __name__ == "__main__":
    main()
