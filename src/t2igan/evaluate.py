"""`t2igan evaluate`: generate from a run's captions of the real evaluation split, score every
requested metric, write RUN/eval.json and RUN/eval.md with each number's protocol beside it; or
score a captioned folder of images made elsewhere (`--images DIR`) the same way, into DIR.

The real split is the data's held-out part where it has one (a prepared cache's validation split,
the procedural data's test scenes), else the whole dataset, and says so. Generated image i is made
from a caption of real image i mod M (one of its captions, drawn by seed), as the papers cycle
through their test captions.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from PIL import Image
from tqdm import tqdm

from t2igan.config import TrainConfig
from t2igan.data.dataset import CaptionedImages, CaptionedTensors
from t2igan.data.formats import captioned_folder
from t2igan.data.memory import class_labels, load_into_memory, open_dataset
from t2igan.data.sources import Source, SourceOptions
from t2igan.errors import UserError
from t2igan.files import write_json, write_text
from t2igan.metrics.context import (
    EvalContext,
    EvalSettings,
    Generated,
    NotApplicable,
    RealSet,
    missing_requirement,
)
from t2igan.metrics.fid import load_gaussian
from t2igan.metrics.reference import dataset_fingerprint
from t2igan.metrics.registry import METRICS
from t2igan.runtime import resolve_device
from t2igan.sampling import generate, load_generator
from t2igan.text import embed_texts

PAPER_SAMPLES = 30_000  # FID's sample count in the papers (AttnGAN, DM-GAN, DF-GAN on COCO)
SYNTHETIC_SCENES = 10_000  # held-out procedural scenes rendered as the real set, at most
LABEL_KEYS = ("label", "class", "class_name", "breed", "category")  # extras that name a class
BATCH = 250
EXIF_ORIENTATION, TRANSPOSED = 0x0112, {5, 6, 7, 8}  # orientations that swap width and height


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


def _check_count(count: int, what: str = "--num-samples") -> None:
    if count < 10:
        raise UserError(f"{what} must be at least 10 "
                        "(the Inception Score and R-precision use 10 splits)")


def _runnable(metrics: list[str] | None, settings: EvalSettings, synthetic: bool,
              skip_unavailable: bool,
              unavailable: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The metrics to compute and {name: why} of those skipped; a metric asked for by name that
    cannot run is a one-line error. Called before any image is made or read: a missing file fails
    in a second. `unavailable` adds reasons the caller knows (a folder with no repeated caption)."""
    names, skipped = [], {}
    for name in metrics or list(METRICS):
        why = (missing_requirement(METRICS[name].requires, settings, synthetic)
               or (unavailable or {}).get(name))
        if why and not (skip_unavailable or metrics is None):
            raise UserError(f"{name}: {why}")
        if why:
            skipped[name] = why
        else:
            names.append(name)
    return names, skipped


def _load_real(data: str, cfg: TrainConfig, num_samples: int,
               progress: bool) -> tuple[CaptionedTensors, dict]:
    """The real split in memory, and the record that identifies it (reference cache, protocols)."""
    dataset, split, fit = _real_split(data, cfg, num_samples)
    real = load_into_memory(dataset, progress=progress)
    return real, {"data": str(data), "fingerprint": dataset_fingerprint(data), "split": split,
                  "size": list(cfg.size), "fit": fit, "count": len(real.images)}


def _score(generated: Generated, real: CaptionedTensors, record: dict, names: list[str],
           skipped: dict[str, str], settings: EvalSettings, label: str | None,
           device: torch.device, captions_used: str) -> dict:
    """Score `generated` against the real split: the one metric loop of both paths."""
    ctx = EvalContext(generated, lambda: RealSet(real.images, real.captions,
                                                 _classes(real.attributes, label)),
                      record, settings, device=device)
    results = {}
    for name in names:
        try:
            results[name] = METRICS[name].compute(ctx)
        except NotApplicable as why:  # known only once the captions are: no cat or car named
            skipped[name] = str(why)
    return {"num_samples": len(generated.images), "data": record["data"],
            "split": record["split"], "real_images": record["count"], "captions": captions_used,
            "metrics": results, "skipped": skipped}


def score_generator(G: torch.nn.Module, cfg: TrainConfig, metrics: list[str] | None,
                    num_samples: int, settings: EvalSettings, data: str | None = None,
                    truncation: float | None = None, skip_unavailable: bool = False) -> dict:
    """Generate `num_samples` images and score them: {"metrics": {...}, "skipped": {name: why},
    ...}.

    `metrics` None means every metric; one that cannot run here (no weights, no encoder) is then
    skipped with its reason, as with `skip_unavailable`; otherwise it is a one-line error.
    """
    _check_count(num_samples)
    if settings.reference_stats:
        load_gaussian(settings.reference_stats)  # a bad file fails now, not after generating
    data = data or cfg.data
    names, skipped = _runnable(metrics, settings, data == "synthetic", skip_unavailable)
    real, record = _load_real(data, cfg, num_samples, settings.progress)
    captions, caption_ids = _captions_for(real.captions, num_samples, settings.seed)
    images = sample_generator(G, cfg, captions, 1, settings.seed, truncation, settings.progress)
    generated = Generated(images, captions, caption_ids,
                          lambda caps, per, seed: sample_generator(G, cfg, caps, per, seed,
                                                                   truncation, False))
    captions_used = (f"generated image i from one caption (drawn with seed {settings.seed}) "
                     f"of real image i mod {len(real.images):,} of the {record['split']} split: "
                     f"{len(set(captions)):,} distinct captions")
    return _score(generated, real, record, names, skipped, settings, cfg.label,
                  next(G.parameters()).device, captions_used)


def _open_folder(folder: Path, num_samples: int | None) -> Source:
    """The folder's first `num_samples` entries (all if None); every problem is one line, since a
    score over a silently shortened set would mislead."""
    if not folder.is_dir():
        raise UserError(f"--images {folder}: no such folder")
    if not captioned_folder.detect(folder):
        raise UserError(f"--images {folder}: not a captioned folder (no "
                        f"{captioned_folder.MANIFEST}; `t2igan data synth` writes one)")
    source = captioned_folder.scan(folder, SourceOptions())
    if source.skipped:
        raise UserError(f"--images {folder}: {source.skipped[0].name}: {source.skipped[0].reason}")
    if num_samples is not None and num_samples > len(source.entries):
        raise UserError(f"--num-samples {num_samples}: {folder} holds only "
                        f"{len(source.entries)} images")
    source.entries = source.entries[:num_samples]
    _check_count(len(source.entries), "--num-samples" if num_samples is not None
                 else f"the number of images in {folder} ({len(source.entries)})")
    return source


def _one_size(source: Source) -> tuple[int, int]:
    """The (width, height) every image has, read from the file headers; the real split is fitted
    to it, so the generated images are never resized."""
    first: tuple[str, tuple[int, int]] | None = None
    for entry in source.entries:
        try:
            with Image.open(entry.ref) as image:
                swap = image.getexif().get(EXIF_ORIENTATION, 1) in TRANSPOSED
                size = (image.height, image.width) if swap else image.size
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            raise UserError(f"--images {source.root}: {entry.name} is not a readable image "
                            f"({type(error).__name__})") from None
        first = first or (entry.name, size)
        if size != first[1]:
            raise UserError(f"--images {source.root}: {entry.name} is {size[0]}x{size[1]} but "
                            f"{first[0]} is {first[1][0]}x{first[1][1]}; all images must have "
                            "one size")
    return first[1]


def evaluate_images(folder: str | Path, data: str, metrics: list[str] | None = None,
                    num_samples: int | None = None, settings: EvalSettings | None = None,
                    device: str = "auto") -> dict:
    """Score a captioned folder of images made elsewhere, each against its own (first) caption,
    as generated images; writes DIR/eval.json and DIR/eval.md and returns the report."""
    settings, folder = settings or EvalSettings(), Path(folder)
    source = _open_folder(folder, num_samples)
    captions = [entry.captions[0] for entry in source.entries]
    lookup = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    caption_ids = torch.tensor([lookup[c] for c in captions])
    # A folder cannot draw more images: MS-SSIM pairs its own images of one caption, if any.
    unavailable = ({} if torch.bincount(caption_ids).max() >= 2 else
                   {"ms-ssim": "no caption has 2 or more images in the folder, and MS-SSIM "
                               "pairs images of one caption"})
    if settings.reference_stats:
        load_gaussian(settings.reference_stats)  # a bad file fails now, not after reading
    names, skipped = _runnable(metrics, settings, data == "synthetic", False, unavailable)
    width, height = _one_size(source)
    loaded = load_into_memory(CaptionedImages(source, (width, height)), progress=settings.progress)
    if loaded.skipped:
        raise UserError(f"--images {folder}: {loaded.skipped[0].name}: {loaded.skipped[0].reason}")
    cfg = TrainConfig(data=data, image_size=f"{width}x{height}")
    real, record = _load_real(data, cfg, len(captions), settings.progress)
    captions_used = (f"each image's own caption in {captioned_folder.MANIFEST} (the first where "
                     f"it lists several): {len(lookup):,} distinct captions")
    scored = _score(Generated(loaded.images, captions, caption_ids), real, record, names,
                    skipped, settings, cfg.label, resolve_device(device), captions_used)
    report = {"images": str(folder), "seed": settings.seed, **scored}
    write_json(folder / "eval.json", report)
    write_text(folder / "eval.md", markdown_table(report))
    return report


def markdown_table(report: dict) -> str:
    if "images" in report:  # a folder scored by `evaluate --images`: no run, step or weights
        title, count = f"the images in {report['images']}", "images scored as generated"
    else:
        title = (f"{report['run']} (step {report['step']}, {report['model']}, "
                 f"{report['weights']} weights)")
        count = "generated images"
    lines = [f"# Evaluation of {title}",
             "", f"{report['num_samples']:,} {count}; {report['captions']}; "
                 f"data {report['data']}.", "",
             "| metric | value | protocol |", "|---|---|---|"]
    for name, r in report["metrics"].items():
        value = f"{r['value']:.4g}" + (f" ± {r['std']:.2g}" if r.get("std") is not None else "")
        lines.append(f"| {name} | {value} | {r['protocol']} |")
    for name, why in report["skipped"].items():
        lines.append(f"| {name} | skipped | {why} |")
    return "\n".join(lines) + "\n"


def evaluate_run(run: str | Path, metrics: list[str] | None = None,
                 num_samples: int | None = PAPER_SAMPLES, settings: EvalSettings | None = None,
                 data: str | None = None, truncation: float | None = None, ema: bool = True,
                 device: str = "auto") -> dict:
    """Score a run's latest checkpoint; writes RUN/eval.json and RUN/eval.md and returns the
    report."""
    settings = settings or EvalSettings()
    G, cfg, meta = load_generator(run, device, ema)
    scored = score_generator(G, cfg, metrics, PAPER_SAMPLES if num_samples is None else num_samples,
                             settings, data, truncation)
    report = {"run": str(run), "step": meta["step"], "model": cfg.model, "weights": meta["weights"],
              "seed": settings.seed, "truncation": truncation, **scored}
    write_json(Path(run) / "eval.json", report)
    write_text(Path(run) / "eval.md", markdown_table(report))
    return report
