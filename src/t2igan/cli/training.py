"""`t2igan train`, `demo` and `models`: making a model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from t2igan import settings
from t2igan.config import TrainConfig, load_config_file, merge
from t2igan.files import claimed, owned


def cmd_train(args: argparse.Namespace) -> None:
    from t2igan.runs import read_config
    from t2igan.training.loop import train

    run = Path(args.out)
    if args.resume:
        cfg = read_config(run)
    else:
        cfg = merge(TrainConfig(), load_config_file(args.config)) if args.config else TrainConfig()
    cfg = merge(cfg, settings.given(args, TrainConfig))
    summary = train(cfg, run, resume=args.resume)
    if summary["rank"] == 0:  # under torchrun, one summary, not one per process
        print(json.dumps(summary, indent=2))
        print(f"run folder: {run}")


# what `t2igan demo` wrote before its folders were marked: a demo folder of an older version
DEMO_LAYOUT = frozenset({"dataset-sample", "run", "prompts.png", "eval.json"})


def cmd_demo(args: argparse.Namespace) -> None:
    from t2igan.demo import run_demo

    with claimed(args.out, "folder"), owned(args.out, "demo", DEMO_LAYOUT):
        run_demo(Path(args.out), args.max_minutes)


def cmd_models(_args: argparse.Namespace) -> None:
    from t2igan.models import MODELS

    for spec in MODELS.values():
        sizes = ", ".join(f"{w}x{h}" for w, h in spec.sizes)
        print(f"{spec.name:12s} {spec.description}\n{'':12s} sizes: {sizes}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model into a run folder",
                       description="Train a text-to-image GAN. Flags override --config, which "
                       "overrides the defaults; --resume starts from RUN/config.json.")
    p.add_argument("--out", required=True, metavar="RUN",
                   help="run folder (config, log, samples, checkpoints)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its latest checkpoint")
    p.add_argument("--config", metavar="FILE.json",
                   help="config file: a JSON object of the flags below (underscored)")
    settings.add_flags(p, TrainConfig, suppress_defaults=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("demo",
                       help="render data, train GAN-INT-CLS on the CPU, sample and evaluate")
    p.add_argument("--out", default="demo", help="output folder (default: demo)")
    p.add_argument("--max-minutes", type=float, default=7.0,
                   help="training budget in minutes (default: 7)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list the models, what each adds and the sizes it makes")
    p.set_defaults(func=cmd_models)
