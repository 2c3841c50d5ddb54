"""`t2igan data ...` and `t2igan text pretrain`: dataset and text-encoder tools."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from t2igan import settings
from t2igan.config import DataSettings, PretrainConfig, parse_size
from t2igan.data.sources import Source, SourceOptions
from t2igan.errors import UserError
from t2igan.files import claimed, owned
from t2igan.settings import a_seed, between, setting


@dataclass
class SynthSettings:
    """The numbers of `t2igan data synth`."""

    num: int = setting(1000, "images", check=between(1, 10_000_000), metavar="N")
    size: str = setting("64x64", "WxH, at least 16x16",
                        check=lambda text: parse_size(text) and None)  # raises its own line
    seed: int = setting(0, "seed", check=a_seed)

    def __post_init__(self) -> None:
        settings.check(self)


def cmd_data_synth(args: argparse.Namespace) -> None:
    from t2igan.data.formats.captioned_folder import write_captioned_folder
    from t2igan.data.synthetic import SyntheticCaptions

    how = SynthSettings(**settings.given(args, SynthSettings))
    dataset = SyntheticCaptions("train", parse_size(how.size), how.seed, length=how.num)
    with claimed(args.out, "folder"):  # written whole: only a folder data synth made is replaced
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

    with claimed(args.out, "folder"):  # prepare_cache itself refuses a folder that is not empty
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
    with claimed(args.out, "folder"):  # written whole: only a folder data pack made is replaced
        result = pack(_open_source(args), Path(args.out), args.shard_size)
    print(json.dumps({"shards": result["shards"], "images": result["images"],
                      "skipped": len(result["skipped"])}))


def cmd_text_pretrain(args: argparse.Namespace) -> None:
    from t2igan.training.damsm import pretrain_damsm

    cfg = PretrainConfig(**settings.given(args, PretrainConfig))
    with claimed(args.out, "folder"), owned(args.out, "text pretrain"):
        summary = pretrain_damsm(cfg, args.out)
    print(json.dumps(summary, indent=2))
    print(f"encoder: {args.out} (use with t2igan evaluate --encoder {args.out})")


def add_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="dataset tools").add_subparsers(
        dest="data_command", required=True, metavar="TOOL")
    p = data.add_parser("synth",
                        help="write procedural captioned cats and cars as a captioned folder")
    p.add_argument("--out", required=True, help="folder to write")
    settings.add_flags(p, SynthSettings)
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
