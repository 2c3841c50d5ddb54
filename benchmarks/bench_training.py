"""Training throughput of the real train step: images/s, GFLOPs/image, share of matmul peak, memory.

Each configuration runs in its own process so its peak memory (max RSS) is its own. "auto" rows
run in the precision --precision auto picks on this machine (said in the header).

With --baseline REF the same configurations also run on t2igan as it was at git revision REF (a
worktree of it, in a temporary folder), alternating this checkout and REF row by row, and the
table adds REF's images/s and the speed-up: the machine's drift hits both alike.

--precision P runs every row in P instead of its own (auto: what this machine runs natively, so
that on a CPU with native bf16 each row shows bf16 against REF's fp32, which is what a user gets).

Prints a Markdown table. Usage: python benchmarks/bench_training.py [--steps N] [--baseline REF]
[--precision auto] [--only TEXT] (--tiny: three of the configurations at width 4, one step
each, in seconds). DF-GAN's MA-GP defeats the FLOP counter: with it every step, the row has no
FLOPs; spaced out (the default), they are an unpenalised step's, a lower bound (">=").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchmark_tools import matmul_rate, parse_args

# (label, precision, timed steps, overrides). bf16 gets few small steps: on a CPU without native
# bf16 (AVX2 only, like the 2-core development machine) autocast emulates it about 25x slower.
G16 = dict(model="gan-int-cls", ngf=16, ndf=16, batch_size=32)
CONFIGS = [
    ("gan-int-cls, paper width ngf=ndf=64, batch 64", "fp32", 5,
     dict(model="gan-int-cls", ngf=64, ndf=64, batch_size=64)),
    ("gan-int-cls, half width ngf=ndf=32, batch 32", "fp32", 10,
     dict(model="gan-int-cls", ngf=32, ndf=32, batch_size=32)),
    ("gan-int-cls, demo ngf=ndf=16, batch 32", "fp32", 20, G16),
    ("gan-int-cls, demo ngf=ndf=16, batch 8", "bf16", 2, {**G16, "batch_size": 8}),
    # DF-GAN's default spaces MA-GP out to every 4th step (--gp-every 4): its rows time a
    # multiple of 4 steps, as many penalised as a run has; "every step" rows are the paper's
    ("df-gan, nf=8, batch 32", "fp32", 8, dict(model="df-gan", ngf=8, ndf=8, batch_size=32)),
    ("df-gan, paper nf=32, batch 32, MA-GP every step", "fp32", 4,
     dict(model="df-gan", ngf=32, ndf=32, batch_size=32, gp_every=1)),
    ("df-gan, paper nf=32, batch 32, MA-GP every step", "auto", 4,
     dict(model="df-gan", ngf=32, ndf=32, batch_size=32, gp_every=1)),
    ("df-gan, paper nf=32, batch 32", "auto", 8,
     dict(model="df-gan", ngf=32, ndf=32, batch_size=32)),
    ("df-gan 256x256, paper nf=32, batch 8, MA-GP every step", "auto", 2,
     dict(model="df-gan", ngf=32, ndf=32, batch_size=8, image_size="256", gp_every=1)),
    ("df-gan 256x256, paper nf=32, batch 8", "auto", 4,
     dict(model="df-gan", ngf=32, ndf=32, batch_size=8, image_size="256")),
    ("fastgan + efficientnet-lite0 D, ngf=16, batch 32", "auto", 3,
     dict(model="fastgan", ngf=16, ndf=32, batch_size=32)),
    ("stackgan I, ngf=32, ndf=16, batch 32", "fp32", 10,
     dict(model="stackgan", ngf=32, ndf=16, batch_size=32)),
    ("tac-gan (ac), ngf=ndf=16, batch 32", "fp32", 20,
     dict(model="tac-gan", ngf=16, ndf=16, batch_size=32)),
]
NEWER_SETTINGS = {"gp_every"}  # added by issue 14's speed work; absent from --baseline 9a41c55
# --tiny: these defaults instead (flags given still win); "overrides" go into every TrainConfig.
# Three configurations, the table's three branches: bf16, DF-GAN with lazy MA-GP (FLOPs of an
# unpenalised step: a lower bound), and with MA-GP every step (FLOPs not counted).
TINY = dict(steps=1, matmul_size=64,
            configs=[c for c in CONFIGS if (c[0], c[1]) in (
                ("gan-int-cls, demo ngf=ndf=16, batch 8", "bf16"),
                ("df-gan, nf=8, batch 32", "fp32"),
                ("df-gan, paper nf=32, batch 32, MA-GP every step", "fp32"))],
            overrides=dict(ngf=4, ndf=4, nz=8, text_code=8, batch_size=4, num_images=16))



def one(overrides: dict, precision: str, steps: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from t2igan.config import TrainConfig
    from t2igan.training.loop import Trainer

    cfg = TrainConfig(**{"num_images": 512, **overrides}, precision=precision)
    with tempfile.TemporaryDirectory() as run:
        trainer = Trainer(cfg, run, progress=False)
        trainer.train_step()  # warm-up: first-call allocations and kernel selection
        flops, at_least = float("nan"), False
        try:
            with FlopCounterMode(display=False) as counter:
                trainer.train_step()  # step 1: MA-GP's lazy steps are 0, N, 2N...: not this one
            flops = counter.get_total_flops()
            # with MA-GP every Nth step, the timed steps hold penalised ones, dearer than this
            at_least = trainer.cfg.gp_every > 1
        except RuntimeError:  # the counter cannot follow autograd.grad(create_graph=True): MA-GP
            pass
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        seconds = time.perf_counter() - start
    flops_per_image = flops / cfg.batch_size
    images_per_s = steps * cfg.batch_size / seconds
    return {"images_per_s": images_per_s, "gflops_per_image": flops_per_image / 1e9,
            "achieved_gflops": images_per_s * flops_per_image / 1e9, "at_least": at_least,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "threads": torch.get_num_threads()}


def measure(overrides: dict, precision: str, steps: int, here: bool,
            checkout: Path | None = None) -> dict:
    """One configuration's figures from a process of its own, so that its peak memory is its own
    (here=True, for --tiny: from this process; a new one would only add torch's import time).
    With `checkout`, the figures of the t2igan in that folder (its own copy of this script)."""
    if here:
        return one(overrides, precision, steps)
    script, env = Path(__file__), dict(os.environ)
    if checkout:
        script = checkout / "benchmarks" / script.name
        env["PYTHONPATH"] = str(checkout / "src")  # ahead of the installed (editable) t2igan
        precision = "fp32" if precision == "auto" else precision  # older t2igan had no auto
    out = subprocess.run([sys.executable, str(script), "--steps", str(steps), "--one",
                          json.dumps([overrides, precision])], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rate(images_per_s: float) -> str:
    return f"{images_per_s:.2f}" if images_per_s < 10 else f"{images_per_s:.1f}"


@contextmanager
def worktree(ref: str | None):
    """A temporary git worktree of `ref` (None: nothing)."""
    if ref is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], check=True,
                       capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], check=False,
                           capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=0,
                        help="timed steps per configuration (default: its own)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: two configurations, tiny, one step")
    parser.add_argument("--baseline", metavar="REF",
                        help="also measure t2igan at this git revision, row by row, and print "
                             "the speed-up")
    parser.add_argument("--only", metavar="TEXT",
                        help="only the rows whose label contains TEXT, e.g. 'paper nf=32'")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                        help="every row in this precision (default: each row's own)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration
    parser.set_defaults(matmul_size=1024, configs=CONFIGS, overrides={})
    args = parse_args(parser, TINY)
    if args.one:
        overrides, precision = json.loads(args.one)
        print(json.dumps(one(overrides, precision, args.steps)))
        return
    import torch

    from t2igan.runtime import choose_precision, why_precision

    cpu = torch.device("cpu")
    auto = choose_precision("auto", cpu)
    peak = {dtype: matmul_rate(dtype, args.matmul_size) for dtype in ("float32", "bfloat16")}
    print(f"measured matmul rate: fp32 {peak['float32']:.1f} GFLOP/s, bf16 "
          f"{peak['bfloat16']:.1f} GFLOP/s ({os.cpu_count()} CPU cores); "
          f"--precision auto picks {auto} here ({why_precision('auto', cpu)})\n")
    baseline = f" | {args.baseline} images/s | speed-up" if args.baseline else ""
    print(f"| model (64x64 unless said) | precision | images/s | GFLOPs/image | achieved GFLOP/s "
          f"| of matmul peak | peak RSS{baseline} |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---:" + " | ---: | ---:" * bool(baseline)
          + " |")
    with worktree(args.baseline) as checkout:
        for label, precision, steps, overrides in args.configs:
            if args.only and args.only not in label:
                continue
            settings, steps = {**overrides, **args.overrides}, args.steps or steps
            precision = args.precision or precision
            r = measure(settings, precision, steps, args.tiny)
            chosen = auto if precision == "auto" else precision
            share = r["achieved_gflops"] / peak["float32" if chosen == "fp32" else "bfloat16"]
            counted = r["gflops_per_image"] == r["gflops_per_image"]  # NaN: FLOPs not counted
            low = ">= " if r["at_least"] else ""  # FLOPs of an unpenalised step: a lower bound
            flops = (f"{low}{r['gflops_per_image']:.2f} | {low}{r['achieved_gflops']:.1f} | "
                     f"{low}{share:.0%}") if counted else "n/a | n/a | n/a"
            then = ""
            if checkout:  # the baseline predates some settings: it runs its own default there
                before = {k: v for k, v in settings.items() if k not in NEWER_SETTINGS}
                old = measure(before, precision, steps, False, checkout)["images_per_s"]
                then = f" | {rate(old)} | {r['images_per_s'] / old:.2f}x"
            print(f"| {label} | {precision} ({chosen}) | {rate(r['images_per_s'])} | {flops} | "
                  f"{r['peak_rss_mb']:.0f} MB{then} |", flush=True)


if __name__ == "__main__":
    main()
