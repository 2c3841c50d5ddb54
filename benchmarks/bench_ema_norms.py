"""The EMA generator's batch norms: G's statistics copied into the average (t2igan before the
standing statistics) against the average's own, measured under its weights as every checkpoint
now holds them. Both come from the same finished runs: the average's weights, with the raw G's
running statistics or with `settle_batch_norms`. Each is scored (FID, KID, precision, recall in
Inception features; recognised, by an ImageNet MobileNetV2) on --samples generated images against
the run's held-out split, and drawn as a grid of the run's first captions
(OUT/<run>-copied.png, OUT/<run>-own.png).

    python benchmarks/bench_ema_norms.py RUN [RUN ...] [--samples 1000] [--out DIR]
    python benchmarks/bench_ema_norms.py --tiny   (seconds: a 2-step procedural run, 10 samples)
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
from pathlib import Path

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from benchmark_tools import cli, parse_args
from t2igan.config import TrainConfig
from t2igan.data.memory import load_into_memory, open_dataset
from t2igan.evaluate import score_generator
from t2igan.images import save_png
from t2igan.metrics.context import EvalSettings
from t2igan.models import build_generator
from t2igan.runs import apply_weights, load_latest
from t2igan.sampling import prompt_grid
from t2igan.text import embed_texts
from t2igan.training.ema import settle_batch_norms
from t2igan.training.loop import caption_vectors

METRICS = ["fid", "kid", "precision", "recall", "recognised"]
GRID_NAMES = {"copied from G": "copied", "its own": "own"}
TINY_RUN = ["--model", "gan-int-cls", "--image-size", "32", "--ngf", "8", "--ndf", "8",
            "--nz", "16", "--text-code", "16", "--batch-size", "4", "--num-images", "24",
            "--steps", "2"]


def two_ways(run: Path) -> tuple[dict[str, torch.nn.Module], TrainConfig, list[str]]:
    """The run's average with G's copied statistics and with its own; its config; its captions."""
    checkpoint = load_latest(run, with_state=False)
    cfg, meta = checkpoint.config, checkpoint.meta
    copied = build_generator(meta["text_dim"], cfg, len(meta.get("classes", [])))
    apply_weights(checkpoint, {"G_ema": copied})
    with torch.no_grad():  # what the average held before: the raw G's batch-norm statistics
        for name, module in copied.named_modules():
            if isinstance(module, _BatchNorm):
                for key, buffer in module.named_buffers():
                    buffer.copy_(checkpoint.weights[f"G.{name}.{key}"])
    data = load_into_memory(open_dataset(cfg.data, cfg.size, "train", cfg.seed,
                                         cfg.source_options(), cfg.fit), cfg.num_images,
                            progress=False)
    own = copy.deepcopy(copied)
    settle_batch_norms(own, caption_vectors(data, cfg.text_encoder), cfg.seed)
    captions = list(dict.fromkeys(c[0] for c in data.captions))[:3]
    return {"copied from G": copied.eval(), "its own": own}, cfg, captions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="finished run folders (with --tiny: none)")
    parser.add_argument("--samples", type=int, default=1000, help="generated images scored")
    parser.add_argument("--out", help="where the grids go (default: bench-runs/ema-norms)")
    parser.add_argument("--tiny", action="store_true", help="smoke test in seconds")
    args = parse_args(parser, {"samples": 10})
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out or (tempfile.mkdtemp(prefix="ema-norms-") if args.tiny
                            else "bench-runs/ema-norms"))
    out.mkdir(parents=True, exist_ok=True)
    runs = [Path(r) for r in args.runs]
    if args.tiny:
        runs = [out / "tiny"]
        cli("train", "--out", runs[0], *TINY_RUN)
    if not runs:
        parser.error("give at least one run folder (or --tiny)")
    print(f"| run | statistics | {' | '.join(METRICS)} |\n|---|---|" + "---:|" * len(METRICS))
    for run in runs:
        networks, cfg, captions = two_ways(run)
        for way, G in networks.items():
            report = score_generator(G, cfg, METRICS, args.samples, EvalSettings(progress=False))
            values = [report["metrics"][m]["value"] if m in report["metrics"] else None
                      for m in METRICS]
            cells = " | ".join("n/a" if v is None else f"{v:.4g}" for v in values)
            print(f"| {run.name} | {way} | {cells} |", flush=True)
            grid = prompt_grid(G, captions, embed_texts(captions, cfg.text_encoder), 8, seed=0)
            save_png(grid, out / f"{run.name}-{GRID_NAMES[way]}.png")
    print(f"grids: {out}")


if __name__ == "__main__":
    main()
