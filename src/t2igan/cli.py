"""The `t2igan` command: argparse subcommands, each a thin call into the library."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
from pathlib import Path

from t2igan.config import TrainConfig, load_config_file, merge, parse_size
from t2igan.data.decode import FITS
from t2igan.data.sources import FORMATS, Source, SourceOptions
from t2igan.errors import UserError

TRAIN_HELP = {
    "data": "'synthetic' (procedural captioned cats and cars), a cache from `t2igan data prepare`, or a dataset "
            "folder or manifest in any format below (README: 'Your own data')",
    "format": "the dataset's format; auto detects it",
    "image_column": "CSV manifests: the column naming each image file (default: file_name, file, image...)",
    "caption_column": "CSV manifests: the column holding a caption (default: caption, text, caption_template...)",
    "label_column": "CSV manifests: the class column, kept as the label (default: label, class_name, breed...)",
    "caption_template": "class folders and LMDB: the caption made from each image's label (default: "
                        "'a photo of a {label}')",
    "keep_words": "COCO: keep only images whose captions have one of these comma-separated words, e.g. cat,kitten",
    "captions_file": "LMDB: a CSV or JSONL of captions keyed by image key (default: --caption-template)",
    "fit": "how images take the training size: crop (centre, no distortion), pad (black bars, all in view) or "
           "stretch",
    "mode_seeking": "weight of MSGAN's mode-seeking term (Mao et al. 2019) in G's loss: against a G that ignores "
                    "its noise and makes one image per caption; 1 is the paper's; 0 turns it off",
    "augment": "DiffAugment of D's inputs for small datasets: none, or a comma list of color, translation, cutout",
    "model": "method to train; `t2igan models` lists them with their sizes",
    "image_size": "S for SxS or WxH, e.g. 64 or 512x384 (default: 64; StackGAN stage II: 256)",
    "steps": "stop after this many steps (one D and one G update each)",
    "max_minutes": "also stop after this many minutes of training, whichever comes first",
    "batch_size": "images per step",
    "lr": "Adam learning rate of G (DF-GAN: 1e-4; others: 2e-4)",
    "lr_d": "Adam learning rate of D (DF-GAN: 4e-4; others: --lr)",
    "beta1": "Adam beta1 (DF-GAN: 0.0; others: 0.5)",
    "beta2": "Adam beta2 (DF-GAN: 0.9; others: 0.999)",
    "nz": "noise dimensions (default: 100)",
    "ngf": "G's width: the filters of its last layer (DF-GAN 32, GAN-INT-CLS and TAC-GAN 64) or StackGAN's "
           "GF_DIM (128); coarser layers have up to 8x as many",
    "ndf": "D's first-layer filters (DF-GAN 32, others 64); deeper layers have up to 8x as many",
    "text_code": "size of the code the sentence vector becomes: GAN-INT-CLS 128, TAC-GAN 256, StackGAN's CA 128 "
                 "(DF-GAN uses the sentence vector itself)",
    "text_encoder": "sentence encoder (minilm: all-MiniLM-L6-v2, pretrained and frozen)",
    "num_images": "training images: rendered (synthetic) or read at most (folder)",
    "ema_decay": "decay of the moving average of G's weights that samples and is evaluated; 0 turns it off",
    "stage": "StackGAN's stage: 1 (64 px) or 2 (256 px on top of a frozen stage-I run)",
    "stage1_run": "StackGAN stage 2: the run folder of the trained stage I",
    "label": "TAC-GAN's class per image: attribute names joined by + (synthetic: subject+color; folders: label)",
    "aux_loss": "TAC-GAN's class loss: ac (AC-GAN cross-entropy) or d2d-ce (ReACGAN)",
    "seed": "seed of data, weights, noise and batches: same seed, same run",
    "precision": "fp32, or bf16 autocast (fast on GPUs and CPUs with native bf16; slow emulation on others)",
    "device": "auto (CUDA if present), cpu, cuda or cuda:N",
    "sample_every": "steps between sample grids in RUN/samples",
    "checkpoint_every": "steps between checkpoints in RUN/checkpoints",
    "log_every": "steps between lines of RUN/log.jsonl",
    "keep_checkpoints": "how many recent checkpoints to keep",
}


def _add_train_flags(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    choices = {"precision": ["fp32", "bf16"], "aux_loss": ["ac", "d2d-ce"], "stage": [1, 2], "fit": list(FITS),
               "format": ["auto", *FORMATS]}
    for field in dataclasses.fields(TrainConfig):
        value = getattr(defaults, field.name)
        kind = int if "int" in str(field.type) else float if "float" in str(field.type) else str
        shown = "" if value is None else f" (default: {value})"
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind, default=argparse.SUPPRESS,
                            help=f"{TRAIN_HELP[field.name]}{shown}", choices=choices.get(field.name))


def _add_sampling_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--truncation", type=float, metavar="T",
                        help="redraw noise values beyond +-T: less variety, cleaner images (default: none)")
    parser.add_argument("--no-ema", action="store_true", help="use G's raw weights, not their moving average")


def _given(args: argparse.Namespace) -> dict:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def cmd_train(args: argparse.Namespace) -> None:
    from t2igan.training.loop import train

    run = Path(args.out)
    if args.resume:
        config_path = run / "config.json"
        if not config_path.is_file():
            raise UserError(f"cannot resume {run}: it has no config.json (not a t2igan run folder)")
        cfg = merge(TrainConfig(), load_config_file(config_path))
    else:
        cfg = merge(TrainConfig(), load_config_file(args.config)) if args.config else TrainConfig()
    cfg = merge(cfg, _given(args))
    summary = train(cfg, run, resume=args.resume)
    print(json.dumps(summary, indent=2))
    print(f"run folder: {run}")


def cmd_generate(args: argparse.Namespace) -> None:
    from t2igan.images import save_png_atomic
    from t2igan.sampling import generate_from_run

    if args.num < 1:
        raise UserError("--num must be at least 1")
    grid = generate_from_run(args.run, args.prompt, args.num, args.seed, args.device, args.truncation, not args.no_ema)
    print(save_png_atomic(grid, args.out))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from t2igan.evaluation.attributes import evaluate_run

    report = evaluate_run(args.run, num_samples=args.num_samples, seed=args.seed, truncation=args.truncation,
                          ema=not args.no_ema)
    print(json.dumps(report, indent=2))


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


SOURCE_FIELDS = [f.name for f in dataclasses.fields(SourceOptions)]


def _add_source_flags(parser: argparse.ArgumentParser) -> None:
    """The flags that say how to read a dataset, as `train` has them."""
    parser.add_argument("src", metavar="SRC", help="dataset folder or manifest file, in any supported format")
    for name in SOURCE_FIELDS:
        choices = ["auto", *FORMATS] if name == "format" else None
        parser.add_argument(f"--{name.replace('_', '-')}", default=getattr(SourceOptions(), name), choices=choices,
                            help=TRAIN_HELP[name])


def _open_source(args: argparse.Namespace) -> Source:
    from t2igan.data.sources import open_source

    return open_source(args.src, SourceOptions(**{name: getattr(args, name) for name in SOURCE_FIELDS}))


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

    info = prepare_cache(_open_source(args), args.out, parse_size(args.size), args.fit, args.val_fraction,
                         args.seed, args.dedup, None if args.text_encoder == "none" else args.text_encoder)
    print(json.dumps(info, indent=2))
    print(f"cache: {args.out} (train with --data {args.out}; skipped files listed in {args.out}/report.jsonl)")


def cmd_data_pack(args: argparse.Namespace) -> None:
    from t2igan.data.formats.webdataset_tar import pack

    if args.shard_size < 1:
        raise UserError("--shard-size must be at least 1")
    result = pack(_open_source(args), Path(args.out), args.shard_size)
    print(json.dumps({"shards": result["shards"], "images": result["images"], "skipped": len(result["skipped"])}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2igan", description="Text-to-image GANs: train, generate, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model into a run folder", description="Train a text-to-image GAN. "
                       "Flags override --config, which overrides the defaults; --resume starts from RUN/config.json.")
    p.add_argument("--out", required=True, metavar="RUN", help="run folder (config, log, samples, checkpoints)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--config", metavar="FILE.json", help="config file: a JSON object of the flags below (underscored)")
    _add_train_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="images for free text from a trained run")
    p.add_argument("--run", required=True, help="run folder made by `t2igan train`")
    p.add_argument("--prompt", required=True, action="append", help="the text; repeat for several rows")
    p.add_argument("--num", type=int, default=8, help="images per prompt (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="noise seed: same seed, same images (default: 0)")
    p.add_argument("--out", default="generated.png", help="PNG grid to write (default: generated.png)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("evaluate", help="score a run trained on the synthetic data, attribute by attribute")
    p.add_argument("--run", required=True, help="run folder made by `t2igan train`")
    p.add_argument("--num-samples", type=int, default=1000, help="generated images to score (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of captions and noise (default: 0)")
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="render data, train GAN-INT-CLS on the CPU, sample and evaluate")
    p.add_argument("--out", default="demo", help="output folder (default: demo)")
    p.add_argument("--max-minutes", type=float, default=7.0, help="training budget in minutes (default: 7)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("models", help="list the models, what each adds and the sizes it makes")
    p.set_defaults(func=cmd_models)

    data = sub.add_parser("data", help="dataset tools").add_subparsers(dest="data_command", required=True, metavar="TOOL")
    p = data.add_parser("synth", help="write procedural captioned cats and cars as a captioned folder")
    p.add_argument("--out", required=True, help="folder to write")
    p.add_argument("--num", type=int, default=1000, help="images (default: 1000)")
    p.add_argument("--size", default="64x64", help="WxH (default: 64x64)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.set_defaults(func=cmd_data_synth)

    p = data.add_parser("check", help="read every image of a dataset and report what would be skipped (writes nothing)")
    _add_source_flags(p)
    p.add_argument("--show", type=int, default=20, help="skipped files to list (default: 20)")
    p.set_defaults(func=cmd_data_check)

    p = data.add_parser("prepare", help="decode a dataset once into a memory-mapped cache that trains fast",
                        description="Decode, orient, convert and resize every image once; write a cache "
                        "(uint8 memory map, captions, caption vectors, skip report) that --data accepts.")
    _add_source_flags(p)
    p.add_argument("--out", required=True, metavar="CACHE", help="new folder for the cache")
    p.add_argument("--size", default="64x64", help="WxH of the cached images, the size you will train at (default: 64x64)")
    p.add_argument("--fit", default="crop", choices=FITS, help=TRAIN_HELP["fit"] + " (default: crop)")
    p.add_argument("--val-fraction", type=float, default=0.05, help="images held out for validation (default: 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the train/validation split (default: 0)")
    p.add_argument("--dedup", action="store_true", help="drop near-duplicate images (same 64-bit difference hash)")
    p.add_argument("--text-encoder", default="minilm", help="encoder of the cached caption vectors, or none "
                   "(default: minilm)")
    p.set_defaults(func=cmd_data_prepare)

    p = data.add_parser("pack", help="write a dataset as WebDataset tar shards (original image bytes + captions)")
    _add_source_flags(p)
    p.add_argument("--out", required=True, help="folder for the shards")
    p.add_argument("--shard-size", type=int, default=1000, help="images per shard (default: 1000)")
    p.set_defaults(func=cmd_data_pack)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from t2igan.training.loop import Interrupted

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
