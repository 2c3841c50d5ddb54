"""Cats first, then cars: a run trained on cats fine-tuned on cars (`--init-from`) beside a run
trained on cars from scratch for the same minutes, both scored against held-out cars.

The users' plan for the LSUN setting: learn cats, then apply the model to cars. Both runs use the
same settings (FastGAN-style G against a D on frozen EfficientNet-Lite0 features, 64x64) and the
same cars cache; FID, KID, precision and recall in Inception features of --samples generated
images against the cache's held-out cars, and recognised (an ImageNet MobileNetV2 names the car);
grids of typed car prompts land in OUT/<name>/typed.png.

    python benchmarks/cats_to_cars.py --cats-run bench-runs/photos/petimages-fastgan-16+lite0 \\
        --cars bench-runs/cars64s [--minutes 6] [--samples 1000] [--out bench-runs/cats-to-cars]
    python benchmarks/cats_to_cars.py --tiny [--out DIR]   (seconds: procedural stand-ins, 2 steps)

--cats-run is a finished cats run of these settings (real_photos.py --setting fastgan-16+lite0
makes one); the cars cache comes from `t2igan data prepare` at 64x64 (bench_cars.py's Usage).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from benchmark_tools import cars_like, cli

SETTING = ["--model", "fastgan", "--ngf", "16", "--batch-size", "32"]
PROMPTS = ["a photo of a 2012 Audi TTS Coupe", "a photo of a 2012 Ford F-150 Regular Cab",
           "a red pickup truck on a street at night"]
TINY = ["--steps", "2", "--ngf", "4", "--nz", "8", "--batch-size", "4"]  # after SETTING


def train_and_score(name: str, cars: Path, out: Path, budget: list[str], samples: int,
                    start: list[str]) -> dict:
    run = out / name
    cli("train", "--data", cars, "--out", run, *SETTING, "--steps", 10_000_000,
        "--sample-every", 1000, "--checkpoint-every", 1000, *budget, *start)
    cli("generate", "--run", run, *(f for p in PROMPTS for f in ("--prompt", p)), "--num", 8,
        "--out", run / "typed.png")
    cli("evaluate", "--run", run, "--metrics", "fid,kid,precision,recall,recognised",
        "--num-samples", samples)
    report = json.loads((run / "eval.json").read_text())
    logged = (run / "log.jsonl").read_text().splitlines()  # none in --tiny's 2 steps
    speed = json.loads(logged[-1]).get("images_per_s") if logged else None
    return {"step": report["step"], "images_per_s": speed,
            **{k: v["value"] for k, v in report["metrics"].items()},
            "protocol": report["metrics"]["fid"]["protocol"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cats-run", help="a finished cats run of SETTING (required, but with "
                        "--tiny: trained here on a stand-in)")
    parser.add_argument("--cars", help="cars cache at 64x64 (required, but with --tiny: a "
                        "stand-in)")
    parser.add_argument("--minutes", type=float, default=6.0, help="budget of each cars run")
    parser.add_argument("--samples", type=int, default=1000, help="generated images scored")
    parser.add_argument("--out", help="default: bench-runs/cats-to-cars (--tiny: a temp folder)")
    parser.add_argument("--tiny", action="store_true", help="smoke test in seconds")
    args = parser.parse_args()
    if not args.tiny and not (args.cats_run and args.cars):
        parser.error("--cats-run and --cars are required (or --tiny)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out or (tempfile.mkdtemp(prefix="cats-to-cars-") if args.tiny
                            else "bench-runs/cats-to-cars"))
    budget = TINY if args.tiny else ["--max-minutes", args.minutes]
    samples = 10 if args.tiny else args.samples
    cats, cars = args.cats_run, args.cars
    if args.tiny:  # stand-ins: procedural renders in the cars' layout, for both sets
        cars = out / "cars-cache"
        cli("data", "prepare", cars_like(out / "stand-in"), "--size", "64x64", "--fit", "pad",
            "--val-fraction", "0.5", "--out", cars)
        cats = out / "cats"
        cli("train", "--data", cars, "--out", cats, *SETTING, *TINY)
    rows = {"cats, then cars (--init-from)": train_and_score("finetuned", Path(cars), out,
                                                              budget, samples,
                                                              ["--init-from", cats]),
            "cars from scratch": train_and_score("scratch", Path(cars), out, budget, samples, [])}
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    print("\n| run | steps on cars | img/s | FID | KID | precision | recall | recognised |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in rows.items():
        print(f"| {name} | {r['step']} | {r['images_per_s']} | {r['fid']:.1f} | {r['kid']:.3f} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} | {r['recognised']:.3f} |")
    print(f"FID etc.: {next(iter(rows.values()))['protocol']}")


if __name__ == "__main__":
    main()
