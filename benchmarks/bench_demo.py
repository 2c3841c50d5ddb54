"""The demo's model and variants of it, side by side: same steps, several seeds.

Trains the demo's GAN-INT-CLS on the procedural data for a fixed number of steps (not minutes:
the machine's speed does not enter), once per variant and seed, and scores 1,000 held-out
captions with the attribute classifier. Prints one row per run and the mean of each variant.

A variant is "demo" (the demo's settings) or changes to them joined by "+": KEY=VALUE sets a
training setting (lr=4e-4, batch_size=64), and "raw" leaves the sentence vectors' statistics at
the identity instead of standardising them (src/t2igan/models/text_norm.py).

    python benchmarks/bench_demo.py [--variants demo,lr=4e-4] [--steps 6000] [--seeds 0,1]
                                    [--out bench-runs/demo-variants]
    python benchmarks/bench_demo.py --tiny   (seconds: 2 steps of a tiny model, MS-SSIM only)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from unittest import mock

from benchmark_tools import parse_args

# --tiny: these defaults instead (flags given still win); "overrides" go into every TrainConfig.
# No attributes: their classifier trains for 2 minutes, once.
TINY = dict(steps=2, seeds="0", out=None, variants="demo,raw+lr=1e-3", samples=20,
            metrics=["ms-ssim"],
            overrides=dict(image_size="32", batch_size=4, mismatches=3, num_images=16, ngf=4,
                           ndf=4, nz=8, text_code=8))


def changes(variant: str) -> tuple[dict, bool]:
    """A variant's setting overrides, and whether it keeps raw sentence vectors."""
    overrides, raw = {}, False
    for part in variant.split("+"):
        if part == "raw":
            raw = True
        elif "=" in part:
            key, value = part.split("=", 1)
            try:
                overrides[key] = json.loads(value)
            except json.JSONDecodeError:
                overrides[key] = value
        elif part != "demo":
            raise SystemExit(f"unknown variant part {part!r}: demo, raw or KEY=VALUE")
    return overrides, raw


def one(variant: str, seed: int, args: argparse.Namespace, out: Path) -> dict:
    """Train and score one run; a raw variant never fits the statistics."""
    from t2igan.config import TrainConfig
    from t2igan.demo import DEMO_CONFIG
    from t2igan.evaluate import evaluate_run
    from t2igan.metrics.context import EvalSettings
    from t2igan.training import loop

    overrides, raw = changes(variant)
    settings = {**DEMO_CONFIG, "steps": args.steps, "seed": seed, "sample_every": args.steps,
                "checkpoint_every": args.steps, **overrides, **args.overrides}
    run = out / f"{variant}-seed{seed}"
    fit = (lambda *_: None) if raw else loop.fit_text_statistics
    with mock.patch.object(loop, "fit_text_statistics", fit):
        summary = loop.train(TrainConfig(**settings), run, progress=False)
    report = evaluate_run(run, args.metrics, num_samples=args.samples,
                          settings=EvalSettings(progress=False))
    attributes = report["metrics"].get("attributes")
    return {"variant": variant, "seed": seed, "steps": summary["step"],
            "minutes": summary["minutes"],
            "attributes": attributes["generated"] if attributes else {},
            "all_stated": attributes["value"] if attributes else None,
            "ms_ssim": report["metrics"]["ms-ssim"]["value"]}


def cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default="demo,lr=4e-4",
                        help="comma-separated: demo, or changes joined by + (KEY=VALUE, raw)")
    parser.add_argument("--steps", type=int, default=6000, help="training steps per run")
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (default: 0,1)")
    parser.add_argument("--out", default="bench-runs/demo-variants",
                        help="folder for the runs and results.json (--tiny: a temporary one)")
    parser.add_argument("--tiny", action="store_true", help="smoke test in seconds")
    parser.set_defaults(samples=1000, metrics=["attributes", "ms-ssim"], overrides={})
    args = parse_args(parser, TINY)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-demo-"))
    variants = args.variants.split(",")
    for variant in variants:
        changes(variant)  # a typo fails before the first run
    rows = [one(variant, int(seed), args, out)
            for seed in args.seeds.split(",") for variant in variants]
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    names = list(rows[0]["attributes"])
    print(f"the demo's GAN-INT-CLS, {args.steps:,} steps per run; {args.samples:,} held-out "
          "captions scored by the attribute classifier\n")
    print("| variant | seed | " + " | ".join(names + ["all stated", "MS-SSIM"]) + " |")
    print("| --- | ---: |" + " ---: |" * (len(names) + 2))
    for r in rows:
        cells = [cell(r["attributes"][n]) for n in names] + [cell(r["all_stated"])]
        print(f"| {r['variant']} | {r['seed']} | " + " | ".join(cells)
              + f" | {r['ms_ssim']:.3f} |")
    for variant in variants:
        mine = [r for r in rows if r["variant"] == variant]
        means = [sum(r["attributes"][n] for r in mine) / len(mine) for n in names]
        stated = [r["all_stated"] for r in mine if r["all_stated"] is not None]
        overall = sum(stated) / len(stated) if stated else None
        print(f"| {variant}, mean | | " + " | ".join(cell(m) for m in means + [overall])
              + f" | {sum(r['ms_ssim'] for r in mine) / len(mine):.3f} |")


if __name__ == "__main__":
    main()
