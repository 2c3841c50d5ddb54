"""Real photos from ../shared/data, each trained for the same CPU budget at 64x64, then asked for
typed sentences and scored: FID, KID, precision and recall in Inception features of --samples
generated images against the set's held-out photos, and recognised (an ImageNet MobileNetV2 names
the cat; the held-out photos' share beside it). Prints each run's summary (steps, images/s) and a
table of the scores; grids land in OUT/<name>/.

    python benchmarks/real_photos.py [--minutes 15] [--samples 1000] [--out bench-runs/photos]
        [--setting tac-gan+aug|fastgan-16+lite0] [--sets cat-breeds,petimages] [--init-from RUN]
    python benchmarks/real_photos.py --tiny [--out DIR]

--init-from starts each set's run from a finished run of the same setting (say, the petimages run
for the 760 cat-breeds photos); its folder is then named <set>-<setting>-from-<RUN's name>. The
cars of bench_cars.py take 30 minutes. Runs one at a time: two torch processes on a 2-core
machine slow each other down many times over. --tiny: in seconds, the first set only, on a
stand-in in its layout (procedural renders, written into OUT), width 4, 2 steps.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from benchmark_tools import cat_breeds_like, cli

DATA = Path(os.environ.get("T2IGAN_SHARED_DATA",
                          Path(__file__).resolve().parents[2] / "shared" / "data"))
# --setting: the best before frozen-feature discriminators (bench_cars.py, docs/results.md "Real
# photos"), and the FastGAN-style G against a D on frozen EfficientNet-Lite0 features.
SETTINGS = {
    "tac-gan+aug": ["--model", "tac-gan", "--label", "label", "--ngf", "16", "--ndf", "16",
                    "--lr", "4e-4", "--batch-size", "32", "--augment", "color,translation,cutout"],
    "fastgan-16+lite0": ["--model", "fastgan", "--ngf", "16", "--batch-size", "32"],
}
SETS = {  # name -> (folder in ../shared/data, typed prompts)
    "cat-breeds": ("cat-breeds", ["a photo of an Abyssinian cat", "a photo of an American Curl cat",
                                  "a photo of an American Shorthair cat",
                                  "a ginger cat with green eyes lying on a blue rug"]),
    "petimages": ("petimages-cats-128", ["a photo of a Cat",
                                         "a ginger cat with green eyes lying on a blue rug"]),
}
TINY = ["--steps", "2", "--ngf", "4", "--ndf", "4", "--nz", "8", "--text-code", "8",
        "--batch-size", "4"]  # after the setting's flags: the last flag wins


def run(name: str, source: Path, prompts: list[str], out: Path, budget: list[str],
        samples: int, setting: str, init_from: str | None) -> dict:
    cache = out / f"{name}-cache"
    run_folder = out / (name if setting == "tac-gan+aug" else f"{name}-{setting}")
    start = ["--init-from", init_from] if init_from else []
    if init_from:  # beside the run from scratch, not over it
        run_folder = run_folder.with_name(f"{run_folder.name}-from-{Path(init_from).name}")
    if not (cache / "cache.json").is_file():
        cli("data", "prepare", source, "--size", "64x64", "--fit", "crop", "--out", cache)
    cli("train", "--data", cache, "--out", run_folder, *SETTINGS[setting], "--steps", 10_000_000,
        "--sample-every", 1000, "--checkpoint-every", 1000, *budget, *start)
    cli("generate", "--run", run_folder, *(f for p in prompts for f in ("--prompt", p)),
        "--num", 8, "--out", run_folder / "typed.png")
    cli("evaluate", "--run", run_folder, "--metrics", "fid,kid,precision,recall,recognised",
        "--num-samples", samples)
    return json.loads((run_folder / "eval.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="training budget per set")
    parser.add_argument("--out", help="folder for caches, runs and grids (default: "
                        "bench-runs/photos; --tiny: a temporary folder)")
    parser.add_argument("--samples", type=int, default=1000,
                        help="generated images scored per set (--tiny: 10)")
    parser.add_argument("--setting", default="tac-gan+aug", choices=list(SETTINGS),
                        help="model settings (default: tac-gan+aug)")
    parser.add_argument("--sets", default=",".join(SETS), help="comma list of: " + ", ".join(SETS))
    parser.add_argument("--init-from", metavar="RUN", help="start each run from this finished "
                        "run of the same setting (t2igan train --init-from)")
    parser.add_argument("--tiny", action="store_true", help="smoke test in seconds on a stand-in")
    args = parser.parse_args()
    default = tempfile.mkdtemp(prefix="real-photos-") if args.tiny else "bench-runs/photos"
    out = Path(args.out or default)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sets = {"cat-breeds": SETS["cat-breeds"]} if args.tiny else \
        {name: SETS[name] for name in args.sets.split(",")}
    reports = {}
    for name, (folder, prompts) in sets.items():
        source = cat_breeds_like(out / "stand-in" / folder) if args.tiny else DATA / folder
        reports[name] = run(name, source, prompts, out,
                            TINY if args.tiny else ["--max-minutes", args.minutes],
                            10 if args.tiny else args.samples, args.setting, args.init_from)
    print("\n| set | step | generated vs real | FID | KID | precision | recall | recognised "
          "(real) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, report in reports.items():
        m = report["metrics"]
        print(f"| {name} | {report['step']} | {report['num_samples']:,} vs "
              f"{report['real_images']:,} ({report['split']}) | {m['fid']['value']:.1f} | "
              f"{m['kid']['value']:.3f} | {m['precision']['value']:.3f} | "
              f"{m['recall']['value']:.3f} | {m['recognised']['value']:.3f} "
              f"({m['recognised']['real']:.3f}) |")


if __name__ == "__main__":
    main()
