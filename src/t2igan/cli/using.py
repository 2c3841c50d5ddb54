"""`t2igan generate`, `interpolate`, `serve`, `export` and `evaluate`: using a trained model."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from t2igan import settings
from t2igan.api import InterpolationSettings, NoiseSettings, SamplingSettings, TextToImage
from t2igan.errors import UserError
from t2igan.files import claimed
from t2igan.metrics.context import EvalSamples, EvalSettings
from t2igan.metrics.registry import METRICS
from t2igan.runtime import DEVICES, PRECISIONS
from t2igan.serve.limits import Address, Limits


def _add_weights_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-ema", action="store_true",
                        help="use G's raw weights, not their moving average")
    parser.add_argument("--device", default="auto", help=f"{DEVICES} (default: auto)")


def _add_precision_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="fp32 (default: the same images on every machine), or auto: bf16 "
                             "where the hardware has it natively and it is faster (a recent GPU, "
                             "a CPU with AMX or AVX-512 BF16 whose bf16 convolutions time faster "
                             "at start), each pixel within a few levels of fp32")


def _add_run_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", help="run folder made by `t2igan train` (default: the bundled "
                        "model, 64x64 procedural cats and cars)")


def _load_model(args: argparse.Namespace) -> TextToImage:
    """The model --run names, else the bundled one; says on stderr which it is."""
    from t2igan.api import load

    model = load(args.run, args.device, not args.no_ema, args.precision)
    if model.bundled:
        print(f"t2igan: using {model.description} (pass --run RUN for your own)",
              file=sys.stderr)
    if not model.steerable:
        print(f"t2igan: run {model.run} was trained on one caption for every image: the prompt "
              "does not change what it draws", file=sys.stderr)
    return model


def _say_drawn_as(model: TextToImage, prompts: list[str], shown: int = 5) -> None:
    """On a run trained on a few captions, which one each other prompt draws as (stderr)."""
    moved = [(p, c) for p, c in zip(prompts, model.drawn_as(prompts)) if p != c]
    if not moved:
        return
    print(f"t2igan: run {model.run} was trained on {len(model.captions)} captions; a prompt that "
          "is none of them draws as the nearest:", file=sys.stderr)
    for prompt, caption in moved[:shown]:
        print(f'  "{prompt}" -> "{caption}"', file=sys.stderr)
    if len(moved) > shown:
        print(f"  and {len(moved) - shown:,} more", file=sys.stderr)


def cmd_generate(args: argparse.Namespace) -> None:
    from t2igan.prompts import clean_prompts, read_prompts_file

    sampling = SamplingSettings(**settings.given(args, SamplingSettings))  # every number, now
    prompts = (read_prompts_file(args.prompts_file, args.column) if args.prompts_file
               else clean_prompts(args.prompt))
    grid = args.grid if args.grid is not None else not args.prompts_file
    out = args.out or ("generated.png" if grid else "generated")
    num = sampling.num if sampling.num is not None else (8 if grid else 1)
    with claimed(out, "file", (".png",)) if grid else claimed(out, "folder"):  # before the work
        model = _load_model(args)
        _say_drawn_as(model, prompts)
        if grid:
            from t2igan.images import save_png

            print(save_png(model.grid(prompts, num, sampling.seed, sampling.truncation), out))
            return
        folder = model.write_folder(prompts, out, num, sampling.seed, sampling.truncation,
                                    sampling.batch_size)
    print(f"{folder}: {len(prompts) * num:,} images and captions.jsonl "
          f"(score them: t2igan evaluate --images {folder} --data DATA)")


def cmd_interpolate(args: argparse.Namespace) -> None:
    if (args.start is None) != (args.end is None):
        raise UserError("--from and --to go together")
    if (args.start is None) == (args.prompt is None):
        raise UserError("give --from TEXT --to TEXT (text changes) or --prompt TEXT (noise "
                        "changes)")
    how = InterpolationSettings(**settings.given(args, InterpolationSettings))  # every number
    out = Path(args.out)
    with claimed(out, "file", (".png",)):
        animation = Path(args.animation) if args.animation else out.with_suffix(".gif")
        with claimed(animation, "file", (".gif", ".webp")):
            for path in _interpolate(args, how, _load_model(args), out, animation):
                print(path)


def _interpolate(args: argparse.Namespace, how: InterpolationSettings, model: TextToImage,
                 out: Path, animation: Path) -> list[Path]:
    import numpy as np
    import torch

    from t2igan.images import save_interpolation
    from t2igan.prompts import clean_prompts
    from t2igan.settings import SEED_LIMIT

    if args.start is not None:
        start, end = clean_prompts([args.start, args.end])
        _say_drawn_as(model, [start, end])
        images = model.interpolate(start, end, how.steps, how.rows, how.seed, how.truncation)
        captions = [f"{start} -> {end} (noise {how.seed + r})" if how.rows > 1 else
                    f"{start} -> {end}" for r in range(how.rows)]
    else:
        prompts = clean_prompts(args.prompt)
        _say_drawn_as(model, prompts)
        to_seed = (how.seed + 1) % SEED_LIMIT if how.to_seed is None else how.to_seed
        images = model.interpolate_noise(prompts, how.steps, how.seed, to_seed, how.truncation)
        captions = [f"{p} (noise {how.seed} -> {to_seed})" for p in prompts]
    tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # (N, 3, H, W)
    return save_interpolation(tensor, how.steps, captions, out, animation)


def cmd_export(args: argparse.Namespace) -> None:
    from t2igan.runs import export_for_sampling

    with claimed(args.out, "folder"):
        folder = export_for_sampling(Path(args.run), Path(args.out))
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"{folder}: {size / 1e6:.1f} MB, a run folder for generate, evaluate, serve and "
          "t2igan.load")


def cmd_serve(args: argparse.Namespace) -> None:
    from t2igan.serve.app import serve

    address = Address(**settings.given(args, Address))
    limits = Limits(**settings.given(args, Limits))
    serve(_load_model(args), address.host, address.port, limits)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from t2igan.evaluate import markdown_table

    scoring = EvalSettings(**settings.given(args, EvalSettings))
    count = EvalSamples(**settings.given(args, EvalSamples)).num_samples
    truncation = NoiseSettings(truncation=args.truncation).truncation
    folder = Path(args.images or args.run)
    # the report lands in the folder scored: unwritable? say so before the work (a folder that
    # does not exist is the evaluation's own one-line error)
    with claimed(folder / "eval.json") if folder.is_dir() else nullcontext():
        report = _evaluate(args, scoring, count, truncation)
    print(markdown_table(report))
    print(f"written: {folder / 'eval.json'} and eval.md")


def _evaluate(args: argparse.Namespace, scoring: EvalSettings, count: int | None,
              truncation: float | None) -> dict:
    from t2igan.evaluate import evaluate_images, evaluate_run, parse_metrics

    if args.images:
        if not args.data:  # a folder has no run whose --data could stand in
            raise UserError("--images needs --data: the real images to compare with (a dataset, "
                            "a cache from `t2igan data prepare`, or synthetic)")
        for flag, given in (("--truncation", truncation is not None),
                            ("--no-ema", args.no_ema)):
            if given:
                raise UserError(f"{flag} applies to --run only: the images in --images are made")
        report = evaluate_images(args.images, args.data, parse_metrics(args.metrics), count,
                                 scoring, args.device)
    else:
        report = evaluate_run(args.run, parse_metrics(args.metrics), count, scoring,
                              args.data, truncation, not args.no_ema, args.device)
    return report


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
    p.add_argument("--grid", action=argparse.BooleanOptionalAction, default=None,
                   help="one PNG grid, or (--no-grid) a folder of PNGs (default: a grid for "
                   "--prompt, a folder for --prompts-file)")
    p.add_argument("--out", help="the grid PNG or the folder (default: generated.png, generated)")
    settings.add_flags(p, SamplingSettings)
    _add_weights_flags(p)
    _add_precision_flag(p)
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
    settings.add_flags(p, InterpolationSettings)
    p.add_argument("--out", default="interpolation.png", help="grid PNG (default: "
                   "interpolation.png)")
    p.add_argument("--animation", help="animated .gif or .webp (default: the grid's name with "
                   ".gif)")
    _add_weights_flags(p)
    _add_precision_flag(p)
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser("serve", help="a local web page (and JSON API) that generates from text",
                       description="Serve a page with a prompt box, seed, number of images, "
                       "truncation and a text-to-text interpolation slider, and its JSON API "
                       "(POST /api/generate, /api/interpolate; GET /api/info). The model is "
                       "loaded once.")
    _add_run_flag(p)
    settings.add_flags(p, Address)
    settings.add_flags(p, Limits)
    _add_weights_flags(p)
    _add_precision_flag(p)
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
    settings.add_flags(p, EvalSamples)
    settings.add_flags(p, EvalSettings, skip=["progress"])
    settings.add_flags(p, NoiseSettings, skip=["seed"])  # --seed is EvalSettings': captions too
    _add_weights_flags(p)
    p.set_defaults(func=cmd_evaluate)
