"""The `t2igan` command: argparse subcommands, each a thin call into the library."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from t2igan import settings
from t2igan.config import (
    DataSettings,
    PretrainConfig,
    TrainConfig,
    load_config_file,
    merge,
    parse_size,
)
from t2igan.data.sources import Source, SourceOptions
from t2igan.errors import UserError
from t2igan.interrupts import Interrupted
from t2igan.metrics.context import EvalSettings
from t2igan.metrics.registry import METRICS
from t2igan.runtime import DEVICES


def _add_sampling_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truncation", type=float, metavar="T",
                        help="redraw noise values beyond +-T: less variety, cleaner images "
                        "(default: none)")
    parser.add_argument("--no-ema", action="store_true",
                        help="use G's raw weights, not their moving average")
    parser.add_argument("--device", default="auto", help=f"{DEVICES} (default: auto)")


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


def cmd_generate(args: argparse.Namespace) -> None:
    from t2igan.images import save_png
    from t2igan.sampling import generate_from_run

    if args.num < 1:
        raise UserError("--num must be at least 1")
    grid = generate_from_run(args.run, args.prompt, args.num, args.seed, args.device,
                             args.truncation, not args.no_ema)
    print(save_png(grid, args.out))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from t2igan.evaluate import evaluate_run, markdown_table, parse_metrics

    scoring = EvalSettings(**settings.given(args, EvalSettings))
    report = evaluate_run(args.run, parse_metrics(args.metrics), args.num_samples, scoring,
                          args.data, args.truncation, not args.no_ema, args.device)
    print(markdown_table(report))
    print(f"written: {Path(args.run) / 'eval.json'} and eval.md")


def cmd_demo(args: argparse.Namespace) -> None:
    from t2igan.demo import run_demo

    run_demo(Path(args.out), args.max_minutes)


def cmd_models(_args: argparse.Namespace) -> None:
    from t2igan.models import MODELS

    for spec in MODELS.values():
        sizes = ", ".join(f"{w}x{h}" for w, h in spec.sizes)
        print(f"{spec.name:12s} {spec.description}\n{'':12s} sizes: {sizes}")


def cmd_data_synth(args: argparse.Namespace) -> None:
    from t2igan.data.formats.captioned_folder import write_captioned_folder
    from t2igan.data.synthetic import SyntheticCaptions

    if args.num < 1:
        raise UserError("--num must be at least 1")
    dataset = SyntheticCaptions("train", parse_size(args.size), args.seed, length=args.num)
    print(write_captioned_folder(dataset, args.out))


def _add_source_flags(parser: argparse.ArgumentParser, fit: bool = False) -> None:
    """The dataset (positional SRC) and the flags that say how to read it; with fit, --fit too."""
    parser.add_argument("src", metavar="SRC",
                        help="dataset folder or manifest file, in any supported format")
    settings.add_flags(parser, DataSettings, skip=["data", "num_images"] + ([] if fit else ["fit"]))


def _open_source(args: argparse.Namespace) -> Source:
    from t2igan.data.sources import open_source

    return open_source(args.src, SourceOptions(**settings.given(args, SourceOptions)))


def cmd_data_check(args: argparse.Namespace) -> None:
    from t2igan.data.prepare import check_source

    report = check_source(_open_source(args))
    shown = report.pop("skipped_files")
    print(json.dumps(report, indent=2))
    for item in shown[:args.show]:
        print(f"skipped {item['name']}: {item['reason']}")
    if len(shown) > args.show:
        print(f"... and {len(shown) - args.show} more (--show N)")


def cmd_data_prepare(args: argparse.Namespace) -> None:
    from t2igan.data.prepare import prepare_cache

    info = prepare_cache(_open_source(args), args.out, parse_size(args.size), args.fit,
                         args.val_fraction, args.seed, args.dedup,
                         None if args.text_encoder == "none" else args.text_encoder)
    print(json.dumps(info, indent=2))
    print(f"cache: {args.out} (train with --data {args.out}; "
          f"skipped files listed in {args.out}/report.jsonl)")


def cmd_data_pack(args: argparse.Namespace) -> None:
    from t2igan.data.formats.webdataset_tar import pack

    if args.shard_size < 1:
        raise UserError("--shard-size must be at least 1")
    result = pack(_open_source(args), Path(args.out), args.shard_size)
    print(json.dumps({"shards": result["shards"], "images": result["images"],
                      "skipped": len(result["skipped"])}))


def cmd_text_pretrain(args: argparse.Namespace) -> None:
    from t2igan.training.damsm import pretrain_damsm

    summary = pretrain_damsm(PretrainConfig(**settings.given(args, PretrainConfig)), args.out)
    print(json.dumps(summary, indent=2))
    print(f"encoder: {args.out} (use with t2igan evaluate --encoder {args.out})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2igan",
                                     description="Text-to-image GANs: train, generate, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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

    p = sub.add_parser("generate", help="images for free text from a trained run")
    p.add_argument("--run", required=True, help="run folder made by `t2igan train`")
    p.add_argument("--prompt", required=True, action="append",
                   help="the text; repeat for several rows")
    p.add_argument("--num", type=int, default=8, help="images per prompt (default: 8)")
    p.add_argument("--seed", type=int, default=0,
                   help="noise seed: same seed, same images (default: 0)")
    p.add_argument("--out", default="generated.png",
                   help="PNG grid to write (default: generated.png)")
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("evaluate", help="score a run: FID, IS, KID, MS-SSIM, R-precision, CLIP "
                       "score, attributes",
                       description="Generate from the captions of the real evaluation split and "
                       "score the images; writes RUN/eval.json and RUN/eval.md, each number beside "
                       "its protocol. Metrics whose weights or encoder are missing are skipped "
                       "with the reason, unless named in --metrics.")
    p.add_argument("--run", required=True, help="run folder made by `t2igan train`")
    p.add_argument("--data", help="real images and captions to compare with (default: the run's "
                   "--data); its held-out split where it has one")
    p.add_argument("--metrics", metavar="LIST", help=f"comma list of {', '.join(METRICS)} "
                   "(default: all that can run here)")
    p.add_argument("--num-samples", type=int, default=30_000, help="generated images (default: "
                   "30000, as the papers' FID; 2 CPU cores extract Inception features at "
                   "about 8 images/s, so lower it there)")
    settings.add_flags(p, EvalSettings, skip=["progress"])
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo",
                       help="render data, train GAN-INT-CLS on the CPU, sample and evaluate")
    p.add_argument("--out", default="demo", help="output folder (default: demo)")
    p.add_argument("--max-minutes", type=float, default=7.0,
                   help="training budget in minutes (default: 7)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list the models, what each adds and the sizes it makes")
    p.set_defaults(func=cmd_models)

    data = sub.add_parser("data", help="dataset tools").add_subparsers(
        dest="data_command", required=True, metavar="TOOL")
    p = data.add_parser("synth",
                        help="write procedural captioned cats and cars as a captioned folder")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--num", type=int, default=1000, help="images (default: 1000)")
    p.add_argument("--size", default="64x64", help="WxH (default: 64x64)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.set_defaults(func=cmd_data_synth)

    p = data.add_parser("check", help="read every image of a dataset and report what would be "
                        "skipped (writes nothing)")
    _add_source_flags(p)
    p.add_argument("--show", type=int, default=20, help="skipped files to list (default: 20)")
    p.set_defaults(func=cmd_data_check)

    p = data.add_parser("prepare",
                        help="decode a dataset once into a memory-mapped cache that trains fast",
                        description="Decode, orient, convert and resize every image once; write a "
                        "cache (uint8 memory map, captions, caption vectors, skip report) that "
                        "--data accepts.")
    _add_source_flags(p, fit=True)
    p.add_argument("--out", required=True, metavar="CACHE", help="new folder for the cache")
    p.add_argument("--size", default="64x64", help="WxH of the cached images, the size you will "
                   "train at (default: 64x64)")
    p.add_argument("--val-fraction", type=float, default=0.05,
                   help="images held out for validation (default: 0.05)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the train/validation split (default: 0)")
    p.add_argument("--dedup", action="store_true",
                   help="drop near-duplicate images (same 64-bit difference hash)")
    p.add_argument("--text-encoder", default="minilm",
                   help="encoder of the cached caption vectors, or none (default: minilm)")
    p.set_defaults(func=cmd_data_prepare)

    p = data.add_parser("pack", help="write a dataset as WebDataset tar shards (original image "
                        "bytes + captions)")
    _add_source_flags(p)
    p.add_argument("--out", required=True, help="folder for the shards")
    p.add_argument("--shard-size", type=int, default=1000, help="images per shard (default: 1000)")
    p.set_defaults(func=cmd_data_pack)

    text = sub.add_parser("text", help="text encoders").add_subparsers(
        dest="text_command", required=True, metavar="TOOL")
    p = text.add_parser("pretrain", help="train a DAMSM text/image encoder pair on a dataset (for "
                        "R-precision and a domain FID)",
                        description="Train AttnGAN's DAMSM encoders from scratch: a bi-LSTM over "
                        "words and a small CNN over image regions, with the DAMSM word and "
                        "sentence losses. Ctrl-C saves what was trained so far.")
    p.add_argument("--out", required=True, metavar="ENC", help="new folder for the encoder "
                   "(config.json, damsm.safetensors, damsm.json)")
    settings.add_flags(p, PretrainConfig)
    p.set_defaults(func=cmd_text_pretrain)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as error:
        print(f"t2igan: error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"t2igan: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("t2igan: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
