"""Parameter counts of each G and D: at the CPU benchmarks' widths and at the papers' settings.

The papers' settings are built with this project's code, with the sentence-vector size of the
encoder each paper used (char-CNN-RNN 1024, skip-thought 2400, DAMSM 256). Prints a Markdown table.
Usage: python benchmarks/bench_params.py [--tiny]   (--tiny: every row at width 4, in seconds)
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from bench_models import COMMON, RUNS  # noqa: E402  (the widths the model comparison trains)
from t2igan.config import TrainConfig  # noqa: E402
from t2igan.models import get_model, resolve  # noqa: E402

MINILM = 384  # all-MiniLM-L6-v2's sentence vector
# (row label, model, text_dim, config overrides): the published configurations.
PAPERS = [
    ("GAN-INT-CLS paper: ngf=ndf=64, char-CNN-RNN 1024, code 128", "gan-int-cls", 1024,
     dict(ngf=64, ndf=64)),
    ("StackGAN stage I paper: GF 128, DF 64, CA 128, text 1024", "stackgan", 1024,
     dict(ngf=128, ndf=64)),
    ("StackGAN stage II paper: GF 128, DF 64 (256 px; G includes stage I)", "stackgan", 1024,
     dict(ngf=128, ndf=64, stage=2, image_size="256")),
    ("TAC-GAN paper: gf=df=64, skip-thought 2400, t_dim 256, 102 classes", "tac-gan", 2400,
     dict(ngf=64, ndf=64)),
    ("DF-GAN paper: nf=32, DAMSM 256, 256 px", "df-gan", 256,
     dict(ngf=32, ndf=32, image_size="256")),
]
TINY = dict(ngf=4, ndf=4)  # --tiny: these widths in every row instead


def count(module: nn.Module) -> str:
    return f"{sum(p.numel() for p in module.parameters()) / 1e6:.2f}M"


def build(model: str, text_dim: int, overrides: dict, classes: int = 102):
    cfg = TrainConfig(**{**overrides, "model": model})
    if cfg.stage == 2:  # no stage-I run to read: fill stage II's settings by hand
        cfg = dataclasses.replace(cfg, nz=100, text_code=128, lr=2e-4, lr_d=2e-4, beta1=0.5,
                                  beta2=0.999)
    else:
        cfg = resolve(cfg)
    return get_model(model).build(text_dim, cfg, classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: every row built at width 4")
    args = parser.parse_args()
    tiny = TINY if args.tiny else {}
    if args.tiny:
        print(f"--tiny: every row built with {tiny}, not the widths it names\n")
    print("| configuration | G | D |")
    print("| --- | ---: | ---: |")
    for name, overrides in RUNS.items():
        settings = {**overrides, "image_size": COMMON["image_size"]}
        G, D = build(overrides["model"], MINILM, {**settings, **tiny}, classes=16)
        print(f"| this benchmark: {name}, ngf={overrides['ngf']}, ndf={overrides['ndf']}, MiniLM "
              f"384, 64 px | {count(G)} | {count(D)} |")
    for label, model, text_dim, overrides in PAPERS:
        G, D = build(model, text_dim, {**overrides, **tiny})
        print(f"| {label} | {count(G)} | {count(D)} |")


if __name__ == "__main__":
    main()
