"""`t2igan demo`: the whole product in one command, on the procedural data, on a CPU.

Renders captioned cats and cars, trains GAN-INT-CLS within a wall-clock budget, draws a grid for
fixed prompts, and scores the result: the attribute classifier (is what the caption says drawn?),
MS-SSIM diversity, and FID, KID, precision and recall in real Inception features against as many
held-out renders (the real renders' features are cached after the first demo).
"""

from __future__ import annotations

from pathlib import Path

from t2igan.api import load
from t2igan.config import TrainConfig
from t2igan.data.formats.captioned_folder import write_captioned_folder
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.evaluate import evaluate_run
from t2igan.files import mark_made_by, write_json
from t2igan.images import save_png
from t2igan.runs import list_checkpoints
from t2igan.sampling import SAMPLE_PROMPTS
from t2igan.training.loop import train

# Sized for minutes on a 2-core CPU (docs/models.md, "Demo settings"): a quarter-width DCGAN
# (G's steps cost ~4x less than at the paper's ngf=ndf=64, so it gets ~4x more of them) and 3,000
# images, whose 10,000 distinct captions the sentence encoder embeds in about a minute. lr 8e-4
# (four times DCGAN's): after 6,000 steps (7 minutes where the CPU has native bf16) every stated
# attribute is right for 60-63% of held-out captions against 46% at 4e-4, whose facing (left or
# right) is still at chance: 51% against 94-96% (benchmarks/bench_demo.py, docs/results.md).
# Four mismatched captions per real image in D's matching-aware term, not one: 64.7% against
# 61.5% at the same steps, two seeds, for no measurable time (the image features are reused).
# GAN-INT-CLS, not the default DF-GAN: with the same 7 CPU minutes it scores 27% of captions fully
# right against DF-GAN's 7% (benchmarks/bench_models.py): DF-GAN costs ~2.4x more per image and
# is still in its early, saturated phase after 600 steps.
DEMO_CONFIG = dict(model="gan-int-cls", image_size="64", ngf=16, ndf=16, batch_size=32, lr=8e-4,
                   mismatches=4, num_images=3000, steps=1_000_000, sample_every=250,
                   checkpoint_every=250, log_every=10)
SAMPLE = "dataset-sample"  # 32 training images in the captioned-folder format
EVAL_SAMPLES = 1000  # FID and KID: 1,000 generated vs 1,000 real, ~4 min of Inception here
METRICS = ["attributes", "ms-ssim", "fid", "kid", "precision", "recall"]


def run_demo(out: Path, max_minutes: float = 7.0) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    if (out / SAMPLE).is_dir():  # the demo's own (the command checked `out` is a demo folder),
        mark_made_by(out / SAMPLE, "data synth")  # also when an older version wrote it unmarked
    sample = write_captioned_folder(SyntheticCaptions("train", (64, 64), length=32),
                                    out / SAMPLE, progress=False)
    print(f"a sample of the training data, in the captioned-folder format: {sample}")
    run = out / "run"
    resume = bool(list_checkpoints(run))
    if resume:
        print(f"continuing the interrupted or earlier demo run in {run}")
    cfg = TrainConfig(**DEMO_CONFIG, max_minutes=max_minutes)
    summary = train(cfg, run, resume=resume)
    grid = save_png(load(run).grid(SAMPLE_PROMPTS, num=8, seed=0), out / "prompts.png")
    report = evaluate_run(run, METRICS, num_samples=EVAL_SAMPLES)
    write_json(out / "eval.json", report)
    _print_report(summary, report)
    print(f"\nprompt grid:   {grid}\ntraining grids: {run / 'samples'}\n"
          f"evaluation:    {out / 'eval.json'}\n"
          f"run folder:    {run}  "
          f"(try: t2igan generate --run {run} --prompt \"a black cat on the grass at night\")")
    return report


def _print_report(summary: dict, report: dict) -> None:
    print(f"\ntrained {summary['step']} steps in {summary['minutes']} min "
          f"at {summary['images_per_s']} images/s")
    attributes = report["metrics"]["attributes"]
    print(f"{'attribute':12s} {'generated':>9s} {'real':>6s} {'captions':>8s}")
    for name, accuracy in attributes["generated"].items():
        print(f"{name:12s} {accuracy:9.1%} {attributes['real'][name]:6.1%} "
              f"{attributes['stated_count'][name]:8d}")
    print(f"{'all stated':12s} {attributes['value']:9.1%}")
    diversity = report["metrics"]["ms-ssim"]
    print(f"MS-SSIM of images from one caption: {diversity['value']:.3f} "
          f"(real renders of one class: {diversity['real']:.3f}; lower is more diverse)")
    m = report["metrics"]
    print(f"FID {m['fid']['value']:.1f}, KID {m['kid']['value']:.4f}, precision "
          f"{m['precision']['value']:.3f}, recall {m['recall']['value']:.3f} "
          f"({report['num_samples']:,} generated vs {report['real_images']:,} real renders; "
          "Inception features, clean-fid resize)")
    if not attributes["trusted"]:
        print("warning: the attribute classifier is below 98% on real renders for some attribute; "
              "do not trust those rows")
