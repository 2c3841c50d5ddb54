"""Evaluation during training (--eval-every): which metrics, checked before step 0, and scoring.

The default "cheap" list holds the metrics that run in seconds here (MS-SSIM; attributes on the
procedural data; R-precision and domain FID when --eval-encoder is given); one of them that cannot
run is skipped. A list the user names must run: what it lacks is a one-line error at step 0, not
minutes later at the first evaluation.
"""

from __future__ import annotations

import torch

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.evaluate import parse_metrics, score_generator
from t2igan.metrics.context import EvalSettings, missing_requirement
from t2igan.metrics.registry import METRICS
from t2igan.text.damsm import load_damsm


class TrainingEvaluation:
    """Scores a generator on cfg.eval_samples images with cfg.eval_metrics: {metric: value}."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.skip_unavailable = cfg.eval_metrics == "cheap"
        self.names = ([n for n, m in METRICS.items() if m.cheap] if self.skip_unavailable
                      else parse_metrics(cfg.eval_metrics) or list(METRICS))
        self.settings = EvalSettings(encoder=cfg.eval_encoder, seed=cfg.seed, progress=False)
        if cfg.eval_encoder is not None:
            load_damsm(cfg.eval_encoder)  # a one-line error now if it is not an encoder folder
        for name in [] if self.skip_unavailable else self.names:
            why = missing_requirement(METRICS[name].requires, self.settings,
                                      cfg.data == "synthetic", "--eval-encoder")
            if why:
                raise UserError(f"--eval-metrics {name}: {why}")

    def __call__(self, G: torch.nn.Module) -> dict[str, float]:
        # the evaluators' seeding leaves training's randomness alone
        with torch.random.fork_rng(devices=[]):
            scored = score_generator(G, self.cfg, self.names, self.cfg.eval_samples, self.settings,
                                     skip_unavailable=self.skip_unavailable)
        return {name: round(result["value"], 5) for name, result in scored["metrics"].items()}
