"""Every metric `t2igan evaluate` knows: its name, what it needs, and how it reads the context.

Each entry's `compute` turns an EvalContext into {"value", "std" (or None), "protocol", ...}:
the number and, beside it, one line saying exactly how it was produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from t2igan.metrics.context import EvalContext, NotApplicable
from t2igan.metrics.extractors import MODES, extract
from t2igan.metrics.fid import fid, fit_gaussian, frechet_distance, load_gaussian
from t2igan.metrics.inception_score import inception_score
from t2igan.metrics.kid import kid
from t2igan.metrics.precision_recall import NEIGHBOURHOOD, precision_recall
from t2igan.metrics.r_precision import r_precision
from t2igan.metrics.reference import reference_features
from t2igan.pretrained import file_sha256


@dataclass(frozen=True)
class Metric:
    name: str
    summary: str
    # inception | inception-classifier | mobilenet | encoder | clip | synthetic
    # (context.missing_requirement says what each lacks)
    requires: str | None
    cheap: bool  # fast enough to run during training (--eval-every)
    compute: Callable[[EvalContext], dict]


def _sets(ctx: EvalContext) -> str:
    r = ctx.real_record
    return (f"{len(ctx.generated.images):,} generated vs {r['count']:,} real images "
            f"({r['data']}, {r['split']} split, {r['size'][0]}x{r['size'][1]}, fit {r['fit']})")


def _inception_protocol(ctx: EvalContext, what: str) -> str:
    """Which network and input protocol produced a number, for its protocol line."""
    mode = ctx.settings.fid_mode
    return f"{MODES[mode].protocol}; {what}; {ctx.inception.network}; fid-mode {mode}"


def _fid(ctx: EvalContext) -> dict:
    published = ctx.settings.reference_stats
    generated = ctx.features(ctx.inception)["pool"]
    if published:  # the paper's own reference statistics, to reproduce its table
        value = frechet_distance(fit_gaussian(generated), load_gaussian(published))
        sets = f"{len(generated):,} generated images vs the reference statistics {published} " \
               f"(sha256 {file_sha256(Path(published))[:12]})"
    else:
        value, sets = fid(generated, ctx.reference(ctx.inception)), _sets(ctx)
    return {"value": value, "std": None,
            "protocol": f"{sets}; {_inception_protocol(ctx, 'pool3 (2048-d)')}"}


def _inception_score(ctx: EvalContext) -> dict:
    s = ctx.settings
    result = inception_score(torch.from_numpy(ctx.features(ctx.inception)["logits"]), s.is_splits,
                             s.seed)
    return {"value": result["mean"], "std": result["std"],
            "protocol": f"{len(ctx.generated.images):,} generated images in {s.is_splits} splits; "
            f"{_inception_protocol(ctx, 'softmax of the 1008 logits (no bias)')}"}


def _mobilenet_is(ctx: EvalContext) -> dict:
    s = ctx.settings
    logits = torch.from_numpy(ctx.features(ctx.mobilenet)["logits"])
    result = inception_score(logits, s.is_splits, s.seed)
    return {"value": result["mean"], "std": result["std"],
            "protocol": f"NOT the Inception Score: its formula on the 1000 ImageNet classes of "
            f"{ctx.mobilenet.network}; whole image resized to 224x224; {len(logits):,} "
            f"generated images in {s.is_splits} splits; compare only with is-mobilenet"}


def _kid(ctx: EvalContext) -> dict:
    s = ctx.settings
    result = kid(ctx.features(ctx.inception)["pool"], ctx.reference(ctx.inception), s.kid_subsets,
                 s.kid_subset_size, s.seed)
    return {"value": result["mean"], "std": result["std"],
            "protocol": f"{_sets(ctx)}; unbiased MMD^2, kernel (x.y/d+1)^3, {s.kid_subsets} "
            f"subsets of {result['subset_size']}; {_inception_protocol(ctx, 'pool3 (2048-d)')}"}


def _precision_recall(ctx: EvalContext, which: str) -> dict:
    both = ctx.once("precision-recall", lambda: precision_recall(
        ctx.reference(ctx.inception), ctx.features(ctx.inception)["pool"]))
    inside = ("generated images inside the real images' manifold" if which == "precision"
              else "real images inside the generated images' manifold")
    return {"value": both[which], "std": None,
            "protocol": f"{_sets(ctx)}; share of {inside} (Kynkäänniemi et al. 2019, "
            f"k={NEIGHBOURHOOD}); {_inception_protocol(ctx, 'pool3 (2048-d), not VGG16')}"}


def _domain_fid(ctx: EvalContext) -> dict:
    extractor = ctx.domain_extractor
    value = fid(ctx.features(extractor)["pool"], ctx.reference(extractor))
    return {"value": value, "std": None, "protocol": f"{_sets(ctx)}; NOT Inception: Fréchet "
            f"distance in the feature space of the DAMSM image encoder {ctx.settings.encoder} "
            f"(sha256 {ctx.damsm.identity['sha256'][:12]}), trained by t2igan on this data; "
            f"compare only runs scored with the same encoder"}


def _r_precision(ctx: EvalContext) -> dict:
    s, g = ctx.settings, ctx.generated
    result = r_precision(ctx.damsm.encode_images(g.images), ctx.damsm.encode_texts(g.captions),
                         g.caption_ids, splits=s.r_precision_splits, seed=s.seed)
    return {"value": result["mean"], "std": result["std"],
            "protocol": f"{len(g.images):,} generated images, each ranked against its caption "
            f"and 99 mismatched ones by DAMSM cosine ({s.encoder}); top-1; mean and std over "
            f"{s.r_precision_splits} splits"}


def _ms_ssim(ctx: EvalContext) -> dict:
    from t2igan.metrics.ms_ssim import ms_ssim_diversity

    s, g = ctx.settings, ctx.generated
    if g.make is None:  # a folder of images: pairs of its own images that share a caption
        counts = torch.bincount(g.caption_ids)
        repeated = [i for i in dict.fromkeys(g.caption_ids.tolist())
                    if counts[i] >= 2][:s.ms_ssim_captions]
        keep = torch.isin(g.caption_ids, torch.tensor(repeated))
        images, groups = g.images[keep], g.caption_ids[keep]
        drawn = (f"the folder's images that share a caption ({len(repeated)} captions with 2 or "
                 f"more, {len(images)} images)")
    else:
        captions = list(dict.fromkeys(g.captions))[:s.ms_ssim_captions]  # distinct, in order
        images = g.make(captions, s.ms_ssim_per_caption, s.seed)
        groups = torch.arange(len(captions)).repeat_interleave(s.ms_ssim_per_caption)
        drawn = (f"images made from the same caption ({len(captions)} captions x "
                 f"{s.ms_ssim_per_caption} noises)")
    generated = ms_ssim_diversity(images, groups, seed=s.seed)
    real = (ms_ssim_diversity(ctx.real.images, ctx.real.groups, seed=s.seed)
            if ctx.real.groups is not None else None)
    real_text = (f"real images of one class: {real['mean']:.4f} over {real['pairs']} pairs" if real
                 else "no real figure: the real data has no classes to pair images by")
    return {"value": generated["mean"], "std": generated["std"],
            "real": real["mean"] if real else None,
            "protocol": f"mean MS-SSIM of {generated['pairs']} random pairs of {drawn}; "
            f"lower is more diverse; {real_text}"}


def _recognised(ctx: EvalContext) -> dict:
    from t2igan.metrics.recognition import TOP, recognised, subjects

    g, mobilenet = ctx.generated, ctx.mobilenet
    generated = recognised(torch.from_numpy(ctx.features(mobilenet)["logits"]),
                           subjects(g.captions))
    if not generated["counted"]:
        raise NotApplicable("no caption names a cat or a car")
    record = {**ctx.real_record, **mobilenet.identity, "feature": "logits"}
    real_logits = reference_features(record, lambda: extract(
        mobilenet, ctx.real.images, progress=ctx.settings.progress,
        desc="mobilenet-v2 classes of real images")["logits"])
    real = recognised(torch.from_numpy(real_logits), subjects([c[0] for c in ctx.real.captions]))
    real_text = (f"{real['share']:.3f} of {real['counted']:,}" if real["counted"]
                 else "none names a cat or a car")
    return {"value": generated["share"], "std": None, "by_subject": generated["by_subject"],
            "real": real["share"], "real_by_subject": real["by_subject"],
            "protocol": f"{generated['counted']:,} generated images whose caption names a cat "
            f"or a car; share with one of the subject's ImageNet classes in the top {TOP} of "
            f"{mobilenet.network}, whole image resized to 224x224; real images the same way: "
            f"{real_text}"}


def _clip_score(ctx: EvalContext) -> dict:
    from t2igan.metrics.clip_score import load_clip

    g = ctx.generated
    result = load_clip(ctx.settings.clip_model).score(g.images, g.captions,
                                                      progress=ctx.settings.progress)
    return {"value": result["mean"], "std": result["std"],
            "protocol": f"{len(g.images):,} generated images with their captions; 100 x "
            f"max(cosine, 0) with the CLIP model {ctx.settings.clip_model}"}


def _attributes(ctx: EvalContext) -> dict:
    from t2igan.metrics.attributes import TRUST, attribute_classifier, score

    g = ctx.generated
    source = "each with its own caption" if g.make is None else "one per held-out test caption"
    net, real = attribute_classifier(ctx.settings.progress)
    result = score(g.images, g.captions, net)
    stated = result["attributes"]
    return {"value": result["all_stated"], "std": None,
            "generated": {k: v["accuracy"] for k, v in stated.items()},
            "real": {k: real[k] for k in stated},
            "stated_count": {k: v["count"] for k, v in stated.items()},
            "trusted": all(real[k] is not None and real[k] >= TRUST for k in stated),
            "protocol": f"{len(g.images):,} generated images, {source}; share with every "
                        "attribute the caption states right, by the attribute classifier"}


METRICS = {m.name: m for m in [
    Metric("fid", "Fréchet Inception Distance (lower is better)", "inception", False, _fid),
    Metric("is", "Inception Score (higher is better; needs torch-fidelity's weights)",
           "inception-classifier", False, _inception_score),
    Metric("is-mobilenet", "the IS formula on ImageNet MobileNetV2 (NOT IS; runs of this "
           "project only)", "mobilenet", False, _mobilenet_is),
    Metric("kid", "Kernel Inception Distance (lower is better)", "inception", False, _kid),
    Metric("precision", "improved precision: fidelity (higher is better)", "inception", False,
           lambda ctx: _precision_recall(ctx, "precision")),
    Metric("recall", "improved recall: variety (higher is better)", "inception", False,
           lambda ctx: _precision_recall(ctx, "recall")),
    Metric("ms-ssim", "MS-SSIM between images of one caption (lower is more diverse)", None, True,
           _ms_ssim),
    Metric("r-precision", "R-precision with a DAMSM encoder (higher is better)", "encoder", True,
           _r_precision),
    Metric("domain-fid", "FID in a project-trained DAMSM encoder's features (lower is better)",
           "encoder", True, _domain_fid),
    Metric("recognised", "share of cat and car captions whose image an ImageNet classifier "
           "names so (top 5)", "mobilenet", False, _recognised),
    Metric("clip-score", "CLIP score with a local CLIP model (higher is better)", "clip", False,
           _clip_score),
    Metric("attributes", "captions with every stated attribute right (procedural data)",
           "synthetic", True, _attributes),
]}
