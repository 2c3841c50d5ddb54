"""What several benchmarks share: their --tiny parsing, running a t2igan command in this process,
the machine's measured matmul rate, and stand-ins for the photo sets of ../shared/data, for the
benchmarks' --tiny mode on a clean clone.

`cars_like(folder)` writes procedural renders in the layout of stanford-cars-128x96
(`cars_train/*.jpg` + `labels.csv` + `class_names.txt`, 128x96 JPEG), with real Stanford Cars class
names that name every body type bench_cars.py judges, and one that names none. The pixels are
procedural cats and cars: a benchmark on them measures nothing, it only runs. `cat_breeds_like`
does the same for cat-breeds (train/<file> + captions_template.csv).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from t2igan.cli import main as t2igan

# Stanford Cars class names ("make model body year"): the sedan, SUV, coupe, convertible, pickup,
# hatchback, van and wagon of bench_cars.BODY_TYPES, two spellings of some, and one without a type.
CLASS_NAMES = ["Acura TL Sedan 2012", "AM General Hummer SUV 2000", "Audi TTS Coupe 2012",
               "BMW M6 Convertible 2010", "Ford F-150 Regular Cab 2012",
               "Chevrolet Silverado 1500 Extended Cab 2012",
               "Hyundai Elantra Touring Hatchback 2012",
               "Chrysler Town and Country Minivan 2012", "Dodge Sprinter Cargo Van 2009",
               "Dodge Magnum Wagon 2008", "Acura TL Type-S 2008"]
COLUMNS = ["file", "class_id", "class_name", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2",
           "caption_template"]


def cars_like(folder: Path, per_split: int = 2, val_fraction: float = 0.5, seed: int = 0) -> Path:
    """Write the stand-in: each class gets `per_split` images that `t2igan data prepare
    --val-fraction val_fraction --seed seed` will train on and `per_split` it will hold out."""
    from PIL import Image

    from t2igan.data.prepare import is_validation
    from t2igan.data.synthetic import SyntheticCaptions

    renders = SyntheticCaptions("train", (128, 96), seed=seed)
    (folder / "cars_train").mkdir(parents=True, exist_ok=True)
    rows, number = [], 0
    for class_id, name in enumerate(CLASS_NAMES, 1):
        left = {True: per_split, False: per_split}  # held out? -> images still to write
        while any(left.values()):
            number += 1
            file = f"{number:05d}.jpg"
            held_out = is_validation(f"cars_train/{file}", seed, val_fraction)
            if not left[held_out]:
                continue
            left[held_out] -= 1
            image = renders[number][0].permute(1, 2, 0).numpy()
            Image.fromarray(image).save(folder / "cars_train" / file, quality=90)
            words = name.split()
            caption = f"a photo of a {words[-1]} {' '.join(words[:-1])}"
            rows.append([file, class_id, name, 0, 0, 127, 95, caption])
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([COLUMNS, *rows])
    names = "".join(f"{n}\n" for n in CLASS_NAMES)
    (folder / "class_names.txt").write_text(names, encoding="utf-8")
    return folder


def cli(*args: object) -> None:
    """A t2igan command, in this process; the benchmark stops if it fails."""
    status = t2igan([str(a) for a in args])
    if status:
        raise SystemExit(f"t2igan {args[0]} failed with status {status}")


def cat_breeds_like(folder: Path, count: int = 12) -> Path:
    """Procedural renders in cat-breeds' layout, three breeds in turn."""
    from PIL import Image

    from t2igan.data.synthetic import SyntheticCaptions

    breeds = ["Abyssinian", "American Curl", "American Shorthair"]
    (folder / "train").mkdir(parents=True, exist_ok=True)
    rows = [["split", "file", "breed", "caption_template"]]
    for i, (image, _, _) in enumerate(SyntheticCaptions("train", (64, 64), length=count)):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / "train" / f"Cat{i}.png")
        breed = breeds[i % 3]
        rows.append(["train", f"Cat{i}.png", breed, f"a photo of an {breed} cat"])
    with open(folder / "captions_template.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return folder


def matmul_rate(dtype: str = "float32", n: int = 1024, repeats: int = 10) -> float:
    """Measured dense matmul GFLOP/s of this machine in `dtype` (the roofline a row is compared
    to): the best of three rounds, as a load from elsewhere only ever slows a round."""
    a = torch.randn(n, n, dtype=getattr(torch, dtype))
    a @ a
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            a @ a
        rounds.append(time.perf_counter() - start)
    return 2 * n**3 * repeats / min(rounds) / 1e9


def parse_args(parser: argparse.ArgumentParser, tiny: dict) -> argparse.Namespace:
    """The command line; with --tiny, `tiny`'s values are the defaults instead (flags given still
    win)."""
    args = parser.parse_args()
    if args.tiny:
        parser.set_defaults(**tiny)
        args = parser.parse_args()
    return args
