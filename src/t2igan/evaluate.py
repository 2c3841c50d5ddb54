"""`t2igan evaluate`: generate from a run's captions of the real evaluation split, score every
requested metric, write RUN/eval.json and RUN/eval.md with each number's protocol beside it.

The real split is the data's held-out part where it has one (a prepared cache's validation split,
the procedural data's test scenes), else the whole dataset, and says so. Generated image i is made
from a caption of real image i mod M (one of its captions, drawn by seed), as the papers cycle
through their test captions.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tqdm import tqdm

from t2igan.config import TrainConfig
from t2igan.data.memory import class_labels, load_into_memory, open_dataset
from t2igan.data.sources import SourceOptions
from t2igan.errors import UserError
from t2igan.files import write_json, write_text
from t2igan.metrics.context import (
    EvalContext,
    EvalSettings,
    Generated,
    RealSet,
    missing_requirement,
)
from t2igan.metrics.fid import load_gaussian
from t2igan.metrics.reference import dataset_fingerprint
from t2igan.metrics.registry import METRICS
from t2igan.sampling import generate, load_generator
from t2igan.text import embed_texts

PAPER_SAMPLES = 30_000  # FID's sample count in the papers (AttnGAN, DM-GAN, DF-GAN on COCO)
SYNTHETIC_SCENES = 10_000  # held-out procedural scenes rendered as the real set, at most
LABEL_KEYS = ("label", "class", "class_name", "breed", "category")  # extras that name a class
BATCH = 250


def parse_metrics(text: str | None) -> list[str] | None:
    """'fid,is' -> ['fid', 'is']; None or 'all' -> None (every metric that can run)."""
    if text is None or text == "all":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise UserError(f"--metrics: unknown {', '.join(unknown) or 'empty list'}; "
                        f"choose from {', '.join(METRICS)}")
    return names


def _real_split(data: str, cfg: TrainConfig,
                num_samples: int) -> tuple[torch.utils.data.Dataset, str, str]:
    """The real images to compare with, the split's name, and how they were fitted to the size
    (a prepared cache's own fit: it was applied when the cache was made)."""
    from t2igan.data.cache import CachedImages, is_cache

    if data == "synthetic":
        from t2igan.data.synthetic import SyntheticCaptions

        scenes = min(num_samples, SYNTHETIC_SCENES)
        return SyntheticCaptions("test", cfg.size, seed=0, length=scenes), "test", cfg.fit
    if is_cache(Path(data)):
        held_out = CachedImages(data, "val", cfg.size)
        fit = held_out.info["fit"]
        return ((held_out, "val", fit) if len(held_out)
                else (CachedImages(data, "all", cfg.size), "all (no held-out split)", fit))
    options = cfg.source_options() if data == cfg.data else SourceOptions()
    return (open_dataset(data, cfg.size, "train", cfg.seed, options, cfg.fit),
            "all (no held-out split)", cfg.fit)


def _classes(attributes: list[dict], label: str | None) -> torch.Tensor | None:
    """Each real image's class for MS-SSIM pairs: the run's --label, else a class-like extra, else
    the procedural data's subject+color (TAC-GAN's classes there); None when the images have
    none."""
    for key in [label, *LABEL_KEYS, "subject+color"]:
        if key and attributes and all(all(part in a for part in key.split("+"))
                                      for a in attributes):
            return class_labels(attributes, key)[1]
    return None


def _captions_for(real_captions: list[list[str]], num_samples: int,
                  seed: int) -> tuple[list[str], torch.Tensor]:
    rng = random.Random(seed)
    captions = [rng.choice(real_captions[i % len(real_captions)]) for i in range(num_samples)]
    ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    return captions, torch.tensor([ids[c] for c in captions])


def sample_generator(G: torch.nn.Module, cfg: TrainConfig, captions: list[str], per_caption: int,
                     seed: int, truncation: float | None = None,
                     progress: bool = True) -> torch.Tensor:
    """uint8 images for each caption, `per_caption` of each, caption-major, in batches."""
    vectors = embed_texts(list(dict.fromkeys(captions)), cfg.text_encoder)
    lookup = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    vectors = vectors[[lookup[c] for c in captions]]
    step = max(1, BATCH // per_caption)
    parts = [generate(G, vectors[i:i + step], per_caption, seed + i, truncation)
             for i in tqdm(range(0, len(captions), step), desc="generating", unit="batch",
                           disable=not progress)]
    return torch.cat(parts)


def score_generator(G: torch.nn.Module, cfg: TrainConfig, metrics: list[str] | None,
                    num_samples: int, settings: EvalSettings, data: str | None = None,
                    truncation: float | None = None, skip_unavailable: bool = False) -> dict:
    """Generate `num_samples` images and score them: {"metrics": {...}, "skipped": {name: why},
    ...}.

    `metrics` None means every metric; one that cannot run here (no weights, no encoder) is then
    skipped with its reason, as with `skip_unavailable`; otherwise it is a one-line error.
    """
    if num_samples < 10:
        raise UserError("--num-samples must be at least 10 "
                        "(the Inception Score and R-precision use 10 splits)")
    if settings.reference_stats:
        load_gaussian(settings.reference_stats)  # a bad file fails now, not after generating
    data = data or cfg.data
    names, skipped = [], {}
    # before any image is made: a missing file fails in a second
    for name in metrics or list(METRICS):
        why = missing_requirement(METRICS[name].requires, settings, data == "synthetic")
        # asked for by name: one line saying what is missing
        if why and not (skip_unavailable or metrics is None):
            raise UserError(f"{name}: {why}")
        if why:
            skipped[name] = why
        else:
            names.append(name)
    dataset, split, fit = _real_split(data, cfg, num_samples)
    real = load_into_memory(dataset, progress=settings.progress)
    captions, caption_ids = _captions_for(real.captions, num_samples, settings.seed)
    images = sample_generator(G, cfg, captions, 1, settings.seed, truncation, settings.progress)
    generated = Generated(images, captions, caption_ids,
                          lambda caps, per, seed: sample_generator(G, cfg, caps, per, seed,
                                                                   truncation, False))
    record = {"data": str(data), "fingerprint": dataset_fingerprint(data), "split": split,
              "size": list(cfg.size), "fit": fit, "count": len(real.images)}
    ctx = EvalContext(generated, lambda: RealSet(real.images, real.captions,
                                                 _classes(real.attributes, cfg.label)),
                      record, settings, device=next(G.parameters()).device)
    results = {name: METRICS[name].compute(ctx) for name in names}
    captions_used = (f"generated image i from one caption (drawn with seed {settings.seed}) "
                     f"of real image i mod {len(real.images):,} of the {split} split: "
                     f"{len(set(captions)):,} distinct captions")
    return {"num_samples": num_samples, "data": str(data), "split": split,
            "real_images": len(real.images), "captions": captions_used, "metrics": results,
            "skipped": skipped}


def markdown_table(report: dict) -> str:
    lines = [f"# Evaluation of {report['run']} (step {report['step']}, {report['model']}, "
             f"{report['weights']} weights)",
             "", f"{report['num_samples']:,} generated images; {report['captions']}; "
                 f"data {report['data']}.", "",
             "| metric | value | protocol |", "|---|---|---|"]
    for name, r in report["metrics"].items():
        value = f"{r['value']:.4g}" + (f" ± {r['std']:.2g}" if r.get("std") is not None else "")
        lines.append(f"| {name} | {value} | {r['protocol']} |")
    for name, why in report["skipped"].items():
        lines.append(f"| {name} | skipped | {why} |")
    return "\n".join(lines) + "\n"


def evaluate_run(run: str | Path, metrics: list[str] | None = None,
                 num_samples: int = PAPER_SAMPLES, settings: EvalSettings | None = None,
                 data: str | None = None, truncation: float | None = None, ema: bool = True,
                 device: str = "auto") -> dict:
    """Score a run's latest checkpoint; writes RUN/eval.json and RUN/eval.md and returns the
    report."""
    settings = settings or EvalSettings()
    G, cfg, meta = load_generator(run, device, ema)
    scored = score_generator(G, cfg, metrics, num_samples, settings, data, truncation)
    report = {"run": str(run), "step": meta["step"], "model": cfg.model, "weights": meta["weights"],
              "seed": settings.seed, "truncation": truncation, **scored}
    write_json(Path(run) / "eval.json", report)
    write_text(Path(run) / "eval.md", markdown_table(report))
    return report
