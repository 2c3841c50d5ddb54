"""`t2igan generate`, `interpolate`, `serve`, `export` and `evaluate`: using a trained model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from t2igan import settings
from t2igan.errors import UserError
from t2igan.metrics.context import EvalSettings
from t2igan.metrics.registry import METRICS
from t2igan.runtime import DEVICES
from t2igan.serve.limits import Limits

if TYPE_CHECKING:  # loaded by the commands that need it: it imports torch
    from t2igan.api import TextToImage


def _add_sampling_flags(parser: argparse.ArgumentParser, truncation: bool = True) -> None:
    if truncation:
        parser.add_argument("--truncation", type=float, metavar="T",
                            help="redraw noise values beyond +-T: less variety, cleaner images "
                            "(default: none)")
    parser.add_argument("--no-ema", action="store_true",
                        help="use G's raw weights, not their moving average")
    parser.add_argument("--device", default="auto", help=f"{DEVICES} (default: auto)")


def _add_run_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", help="run folder made by `t2igan train` (default: the bundled "
                        "model, 64x64 procedural cats and cars)")


def _load_model(args: argparse.Namespace) -> TextToImage:
    """The model --run names, else the bundled one; says on stderr which it is."""
    from t2igan.api import load

    model = load(args.run, args.device, not args.no_ema)
    if model.bundled:
        print(f"t2igan: using {model.description} (pass --run RUN for your own)",
              file=sys.stderr)
    return model


def cmd_generate(args: argparse.Namespace) -> None:
    from t2igan.prompts import clean_prompts, read_prompts_file

    prompts = (read_prompts_file(args.prompts_file, args.column) if args.prompts_file
               else clean_prompts(args.prompt))
    grid = args.grid if args.grid is not None else not args.prompts_file
    out = args.out or ("generated.png" if grid else "generated")
    num = args.num if args.num is not None else (8 if grid else 1)
    if num < 1 or args.batch_size < 1:
        raise UserError("--num and --batch-size must be at least 1")
    model = _load_model(args)
    if grid:
        from t2igan.images import save_png

        print(save_png(model.grid(prompts, num, args.seed, args.truncation), out))
    else:
        folder = model.write_folder(prompts, out, num, args.seed, args.truncation,
                                    args.batch_size)
        print(f"{folder}: {len(prompts) * num:,} images and captions.jsonl "
              f"(score them: t2igan evaluate --images {folder} --data DATA)")


def cmd_interpolate(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from t2igan.images import save_interpolation
    from t2igan.prompts import clean_prompts

    if (args.start is None) != (args.end is None):
        raise UserError("--from and --to go together")
    if (args.start is None) == (args.prompt is None):
        raise UserError("give --from TEXT --to TEXT (text changes) or --prompt TEXT (noise "
                        "changes)")
    if args.rows < 1:
        raise UserError("--rows must be at least 1")
    model = _load_model(args)
    if args.start is not None:
        start, end = clean_prompts([args.start, args.end])
        images = model.interpolate(start, end, args.steps, args.rows, args.seed, args.truncation)
        captions = [f"{start} -> {end} (noise {args.seed + r})" if args.rows > 1 else
                    f"{start} -> {end}" for r in range(args.rows)]
    else:
        prompts = clean_prompts(args.prompt)
        to_seed = args.seed + 1 if args.to_seed is None else args.to_seed
        images = model.interpolate_noise(prompts, args.steps, args.seed, to_seed, args.truncation)
        captions = [f"{p} (noise {args.seed} -> {to_seed})" for p in prompts]
    tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # (N, 3, H, W)
    out = Path(args.out)
    animation = Path(args.animation) if args.animation else out.with_suffix(".gif")
    for path in save_interpolation(tensor, args.steps, captions, out, animation):
        print(path)


def cmd_export(args: argparse.Namespace) -> None:
    from t2igan.runs import export_for_sampling

    folder = export_for_sampling(Path(args.run), Path(args.out))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"{folder}: {size / 1e6:.1f} MB, a run folder for generate, evaluate, serve and "
          "t2igan.load")


def cmd_serve(args: argparse.Namespace) -> None:
    from t2igan.serve.app import serve

    limits = Limits(**settings.given(args, Limits))
    serve(_load_model(args), args.host, args.port, limits)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from t2igan.evaluate import evaluate_images, evaluate_run, markdown_table, parse_metrics

    scoring = EvalSettings(**settings.given(args, EvalSettings))
    if args.images:
        if not args.data:  # a folder has no run whose --data could stand in
            raise UserError("--images needs --data: the real images to compare with (a dataset, "
                            "a cache from `t2igan data prepare`, or synthetic)")
        for flag, given in (("--truncation", args.truncation is not None),
                            ("--no-ema", args.no_ema)):
            if given:
                raise UserError(f"{flag} applies to --run only: the images in --images are made")
        report = evaluate_images(args.images, args.data, parse_metrics(args.metrics),
                                 args.num_samples, scoring, args.device)
    else:
        report = evaluate_run(args.run, parse_metrics(args.metrics), args.num_samples, scoring,
                              args.data, args.truncation, not args.no_ema, args.device)
    print(markdown_table(report))
    print(f"written: {Path(args.images or args.run) / 'eval.json'} and eval.md")


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="images for free text, from a trained run or the bundled "
                       "model", description="A grid (one row per prompt) for --prompt; one PNG "
                       "per image plus captions.jsonl for --prompts-file, a folder that "
                       "`t2igan evaluate --images` scores.")
    _add_run_flag(p)
    given = p.add_mutually_exclusive_group(required=True)
    given.add_argument("--prompt", action="append", help="the text; repeat for several")
    given.add_argument("--prompts-file", metavar="FILE", help="prompts: .txt (one a line), .csv "
                       "or .jsonl (a caption, text or prompt column/field)")
    p.add_argument("--column", help="the prompts file's caption column or field")
    p.add_argument("--num", type=int, default=None,
                   help="images per prompt (default: 8 in a grid, else 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="noise seed: same seed, same images (default: 0)")
    p.add_argument("--grid", action=argparse.BooleanOptionalAction, default=None,
                   help="one PNG grid, or (--no-grid) a folder of PNGs (default: a grid for "
                   "--prompt, a folder for --prompts-file)")
    p.add_argument("--out", help="the grid PNG or the folder (default: generated.png, generated)")
    p.add_argument("--batch-size", type=int, default=64, help="images G makes at once "
                   "(default: 64)")
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("interpolate", help="images along a line between two texts (content "
                       "changes, style stays) or two noise vectors (style changes)",
                       description="Interpolation as in GAN-INT-CLS: --from/--to moves the "
                       "sentence vector at fixed noise, one row per noise vector (--rows); "
                       "--prompt moves the noise from --seed to --to-seed at fixed text, one "
                       "row per prompt. Writes a grid and an animated GIF (or WebP).")
    _add_run_flag(p)
    p.add_argument("--from", dest="start", metavar="TEXT", help="the first text")
    p.add_argument("--to", dest="end", metavar="TEXT", help="the last text")
    p.add_argument("--prompt", action="append", help="without --from/--to: the fixed text of a "
                   "row; repeat for several")
    p.add_argument("--steps", type=int, default=8, help="images per row (default: 8)")
    p.add_argument("--rows", type=int, default=4, help="--from/--to: noise vectors, one row each "
                   "(default: 4)")
    p.add_argument("--seed", type=int, default=0, help="noise seed of the first row (default: 0)")
    p.add_argument("--to-seed", type=int, help="--prompt: the noise seed to move to "
                   "(default: --seed + 1)")
    p.add_argument("--out", default="interpolation.png", help="grid PNG (default: "
                   "interpolation.png)")
    p.add_argument("--animation", help="animated .gif or .webp (default: the grid's name with "
                   ".gif)")
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("serve", help="a local web page (and JSON API) that generates from text",
                       description="Serve a page with a prompt box, seed, number of images, "
                       "truncation and a text-to-text interpolation slider, and its JSON API "
                       "(POST /api/generate, /api/interpolate; GET /api/info). The model is "
                       "loaded once.")
    _add_run_flag(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                   "127.0.0.1, this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free)")
    settings.add_flags(p, Limits)
    _add_sampling_flags(p, truncation=False)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("export", help="copy what sampling needs from a run (config, the sampling "
                       "generator's weights) into a small run folder")
    p.add_argument("--run", required=True, help="run folder made by `t2igan train`")
    p.add_argument("--out", required=True, help="new folder")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("evaluate", help="score a run: FID, IS, KID, MS-SSIM, R-precision, CLIP "
                       "score, attributes",
                       description="Generate from the captions of the real evaluation split and "
                       "score the images; writes RUN/eval.json and RUN/eval.md, each number beside "
                       "its protocol. With --images, score a captioned folder of images made "
                       "elsewhere instead, into DIR/eval.json and DIR/eval.md. Metrics whose "
                       "weights or encoder are missing are skipped with the reason, unless named "
                       "in --metrics.")
    scored = p.add_mutually_exclusive_group(required=True)
    scored.add_argument("--run", help="run folder made by `t2igan train`")
    scored.add_argument("--images", metavar="DIR", help="captioned folder of images made "
                        "elsewhere (DIR/captions.jsonl; each image scored with its first caption; "
                        "all one size); needs --data")
    p.add_argument("--data", help="real images and captions to compare with, or synthetic "
                   "(default: the run's --data; required with --images); its held-out split "
                   "where it has one")
    p.add_argument("--metrics", metavar="LIST", help=f"comma list of {', '.join(METRICS)} "
                   "(default: all that can run here)")
    p.add_argument("--num-samples", type=int, metavar="N", help="generated images (default: "
                   "30000, as the papers' FID; 2 CPU cores extract Inception features at "
                   "about 8 images/s, so lower it there); with --images: the first N (default: "
                   "all)")
    settings.add_flags(p, EvalSettings, skip=["progress"])
    _add_sampling_flags(p)
    p.set_defaults(func=cmd_evaluate)
