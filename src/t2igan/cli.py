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
from t2igan.metrics.registry import METRICS

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
    "eval_every": "steps between evaluations of the EMA generator, logged to RUN/log.jsonl; 0 turns them off",
    "eval_metrics": "metrics of those evaluations: cheap (MS-SSIM; attributes on the procedural data; R-precision "
                    "and domain FID with --eval-encoder) or a comma list (see `t2igan evaluate --help`)",
    "eval_samples": "generated images per evaluation during training",
    "eval_encoder": "DAMSM encoder from `t2igan text pretrain` for R-precision and domain FID during training",
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
    from t2igan.evaluation.evaluate import evaluate_run, markdown_table, parse_metrics
    from t2igan.metrics.context import EvalSettings

    settings = EvalSettings(fid_mode=args.fid_mode, inception_weights=args.inception_weights,
                            reference_stats=args.reference_stats, encoder=args.encoder, clip_model=args.clip_model,
                            is_splits=args.is_splits, seed=args.seed)
    report = evaluate_run(args.run, parse_metrics(args.metrics), args.num_samples, settings, args.data,
                          args.truncation, not args.no_ema, args.device)
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


SOURCE_FIELDS = [f.name for f in dataclasses.fields(SourceOptions)]


def _add_source_flags(parser: argparse.ArgumentParser, as_data_flag: bool = False) -> None:
    """The dataset (positional SRC, or --data as `train` has it) and the flags that say how to read it."""
    if as_data_flag:
        parser.add_argument("--data", required=True, help=TRAIN_HELP["data"])
    else:
        parser.add_argument("src", metavar="SRC", help="dataset folder or manifest file, in any supported format")
    for name in SOURCE_FIELDS:
        choices = ["auto", *FORMATS] if name == "format" else None
        parser.add_argument(f"--{name.replace('_', '-')}", default=getattr(SourceOptions(), name), choices=choices,
                            help=TRAIN_HELP[name])


def _source_options(args: argparse.Namespace) -> SourceOptions:
    return SourceOptions(**{name: getattr(args, name) for name in SOURCE_FIELDS})


def _open_source(args: argparse.Namespace) -> Source:
    from t2igan.data.sources import open_source

    return open_source(args.src, _source_options(args))


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


def cmd_text_pretrain(args: argparse.Namespace) -> None:
    from t2igan.text.pretrain import pretrain_damsm

    summary = pretrain_damsm(args.data, args.out, options=_source_options(args), image_size=parse_size(args.image_size),
                             fit=args.fit, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                             max_minutes=args.max_minutes, seed=args.seed, label=args.label,
                             num_images=args.num_images)
    print(json.dumps(summary, indent=2))
    print(f"encoder: {args.out} (use with t2igan evaluate --encoder {args.out})")


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

    p = sub.add_parser("evaluate", help="score a run: FID, IS, KID, MS-SSIM, R-precision, CLIP score, attributes",
                       description="Generate from the captions of the real evaluation split and score the images; "
                       "writes RUN/eval.json and RUN/eval.md, each number beside its protocol. Metrics whose "
                       "weights or encoder are missing are skipped with the reason, unless named in --metrics.")
    p.add_argument("--run", required=True, help="run folder made by `t2igan train`")
    p.add_argument("--data", help="real images and captions to compare with (default: the run's --data); its "
                   "held-out split where it has one")
    p.add_argument("--metrics", metavar="LIST", help=f"comma list of {', '.join(METRICS)} (default: all that "
                   "can run here)")
    p.add_argument("--num-samples", type=int, default=30_000, help="generated images (default: 30000, as the "
                   "papers' FID; a CPU extracts Inception features at a few images/s, so lower it there)")
    p.add_argument("--seed", type=int, default=0, help="seed of captions and noise (default: 0)")
    p.add_argument("--fid-mode", default="clean", choices=["clean", "dfgan"], help="clean: TF FID Inception with "
                   "clean-fid's resize (comparable, modern); dfgan: torchvision's ImageNet Inception as DF-GAN's "
                   "test code (compare only with tables made that way) (default: clean)")
    p.add_argument("--inception-weights", metavar="FILE", help="Inception weights for FID/IS/KID (clean: "
                   "weights-inception-2015-12-05-6726825d.pth; dfgan: inception_v3_google-0cc3c7bd.pth); default: "
                   "$T2IGAN_INCEPTION_WEIGHTS, else $TORCH_HOME/hub/checkpoints/; never downloaded")
    p.add_argument("--reference-stats", metavar="FILE.npz", help="FID against these published statistics (mu, "
                   "sigma: pytorch-fid's layout, as DF-GAN releases them) instead of the real split's")
    p.add_argument("--encoder", metavar="ENC", help="DAMSM encoder from `t2igan text pretrain`, for R-precision and "
                   "domain FID")
    p.add_argument("--clip-model", metavar="DIR", help="local CLIP model folder (Hugging Face format) for the CLIP score")
    p.add_argument("--is-splits", type=int, default=10, help="Inception Score splits (default: 10)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
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

    text = sub.add_parser("text", help="text encoders").add_subparsers(dest="text_command", required=True,
                                                                        metavar="TOOL")
    p = text.add_parser("pretrain", help="train a DAMSM text/image encoder pair on a dataset (for R-precision "
                        "and a domain FID)", description="Train AttnGAN's DAMSM encoders from scratch: a bi-LSTM "
                        "over words and a small CNN over image regions, with the DAMSM word and sentence losses. "
                        "Ctrl-C saves what was trained so far.")
    _add_source_flags(p, as_data_flag=True)
    p.add_argument("--out", required=True, metavar="ENC", help="new folder for the encoder (damsm.safetensors, "
                   "damsm.json)")
    p.add_argument("--image-size", default="64", help="S for SxS or WxH: the size the image encoder sees; "
                   "match the generator's (default: 64)")
    p.add_argument("--fit", default="crop", choices=FITS, help=TRAIN_HELP["fit"] + " (default: crop)")
    p.add_argument("--epochs", type=int, default=20, help="passes over the training images (default: 20)")
    p.add_argument("--batch-size", type=int, default=48, help="images per step; the others in a batch are the "
                   "negatives (default: 48, as AttnGAN)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, x0.98 each epoch (default: 0.002)")
    p.add_argument("--max-minutes", type=float, help="also stop after this many minutes of training")
    p.add_argument("--num-images", type=int, default=10_000, help=TRAIN_HELP["num_images"] + " (default: 10000)")
    p.add_argument("--label", help="attributes whose equal values are not negatives, joined by + (e.g. "
                   "subject+color); default: every other image is a negative")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, weights and batches (default: 0)")
    p.set_defaults(func=cmd_text_pretrain)
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
