"""Sampling speed of every generator of the zoo at 64 and 256 px: ms per image at batch 1 (one
prompt, one image: the latency of `t2igan generate`), images/s at batch 16 (throughput).

Each generator at its model's default widths (resolve(TrainConfig(model, image_size))), with
untrained weights (speed does not depend on their values), as t2igan.sampling.load_generator
returns it (eval mode, channels_last) and generate calls it (torch.inference_mode). Each timing:
the median of --repeats calls after two warm-up calls; "first call" is the first of those
(allocations, kernel selection; with --compile, the compilation). With --compile each generator
is also run through torch.compile(dynamic=False) with inductor's freezing (weights folded into
the graph as constants), one graph per batch size, from an empty compile cache (what a first
`generate` pays); eager and compiled calls take turns, so that a load from elsewhere slows both
alike, and "max diff" is the compiled graph's largest change of a uint8 pixel against eager.
With --bf16 each generator is also timed eagerly under bf16 autocast (what a CPU with native bf16,
AVX-512 BF16 or AMX, runs fast; elsewhere it is emulated and slow); its "max diff" is against
fp32 eager, on untrained weights (a trained G's images move more).
Each model runs in its own process. GFLOPs/image are torch's count (convolutions and matmuls; a
multiply-add is 2 FLOPs, as in the matmul rate). Timings on a shared CPU are noisy: "CPU taken
by others" is the share of all CPU time other processes used while the batch-1 / batch-16 calls
were timed (from /proc/stat); trust the rows where it is near 0%. Prints a Markdown table.

Usage: python benchmarks/bench_sampling.py [--compile] [--bf16] [--repeats 5]
           [--models df-gan,fastgan]
       python benchmarks/bench_sampling.py --tiny   (seconds: DF-GAN 64 px at width 4, 1 repeat)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from benchmark_tools import matmul_rate, parse_args

# (label, model, size, StackGAN stage): every model at 64 px, those that make 256 px there too
CONFIGS = [("df-gan", "df-gan", 64, 1), ("fastgan", "fastgan", 64, 1),
           ("gan-int-cls", "gan-int-cls", 64, 1), ("tac-gan", "tac-gan", 64, 1),
           ("stackgan I", "stackgan", 64, 1),
           ("df-gan", "df-gan", 256, 1), ("fastgan", "fastgan", 256, 1),
           ("stackgan II (+ stage I)", "stackgan", 256, 2)]
# --tiny: these defaults instead (flags given still win); "overrides" go into every TrainConfig
TINY = dict(repeats=1, batch=4, matmul_size=128, configs=[CONFIGS[0]],
            overrides=dict(ngf=4, ndf=4, nz=8, text_code=8))



def build(model: str, size: int, stage: int, overrides: dict) -> tuple[torch.nn.Module, int, int]:
    """(G ready to sample, its text width, its ngf) at the model's default settings."""
    import dataclasses

    from t2igan.config import TrainConfig
    from t2igan.models import get_model, resolve
    from t2igan.sampling import for_sampling
    from t2igan.text.encoder import ENCODERS

    if stage == 1:
        cfg = resolve(TrainConfig(model=model, image_size=str(size), **overrides))
    else:  # stage II resolves its shared settings from a stage-I run: take stage I's defaults
        cfg = dataclasses.replace(resolve(TrainConfig(model=model, **overrides)), stage=2,
                                  image_size=str(size))
    text_dim = ENCODERS[cfg.text_encoder].dim
    G = get_model(model).build(text_dim, cfg, 0)[0]
    return for_sampling(G, "cpu"), text_dim, cfg.ngf


def busy_jiffies() -> tuple[float, float] | None:
    """(CPU time all processes have been busy, CPU time in all) in seconds since boot, from
    /proc/stat (Linux; None elsewhere): with our own CPU time it says how much of the CPUs other
    processes took while we timed."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / hz, sum(ticks) / hz  # less idle and iowait


def timed(calls: dict, repeats: int) -> tuple[dict, dict, float | None]:
    """Each call's seconds on its first call and median seconds over `repeats` calls after a
    second warm-up, the calls taking turns so that a load from elsewhere slows each alike; and
    the share of all CPU time other processes took meanwhile (None where unknown)."""
    first = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        first[name] = time.perf_counter() - start
        call()
    times: dict = {name: [] for name in calls}
    before, ours = busy_jiffies(), sum(os.times()[:2])
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    after, ours = busy_jiffies(), sum(os.times()[:2]) - ours
    others = None
    if before and after and after[1] > before[1]:
        others = max(0.0, (after[0] - before[0] - ours) / (after[1] - before[1]))
    return first, {name: statistics.median(t) for name, t in times.items()}, others


def one(model: str, size: int, stage: int, overrides: dict, repeats: int, batch: int,
        compile: bool, bf16: bool = False) -> dict:
    """Eager (and compiled) figures of one generator, in this process."""
    from torch.utils.flop_counter import FlopCounterMode

    from t2igan.images import to_uint8

    G, text_dim, ngf = build(model, size, stage, overrides)
    rng = torch.Generator().manual_seed(0)
    inputs = {n: (torch.randn(n, G.noise_dim, generator=rng),  # (n, noise_dim), (n, text_dim)
                  torch.randn(n, text_dim, generator=rng)) for n in (1, batch)}
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            G(*inputs[1])
        nets = {"eager": G}
        if compile:
            from torch._inductor import config as inductor

            inductor.freezing = True  # weights as constants: folds, fuses
            nets["compiled"] = torch.compile(G, dynamic=False)
        if bf16:  # what `generate --precision bf16` (or auto, where native) samples with
            from t2igan.sampling import InPrecision

            nets["eager, bf16"] = InPrecision(G, "bf16")
        results = {mode: {"first_call_s": []} for mode in nets}
        others = []
        for n in (1, batch):
            first, median, taken = timed({mode: functools.partial(net, *inputs[n])
                                          for mode, net in nets.items()}, repeats)
            others.append(taken)
            for mode in nets:
                results[mode]["first_call_s"].append(first[mode])
                results[mode]["ms_per_image" if n == 1 else "images_per_s"] = \
                    median[mode] * 1e3 if n == 1 else n / median[mode]
        eager_images = to_uint8(G(*inputs[batch])).int()
        for mode, net in nets.items():
            results[mode]["max_diff"] = int((to_uint8(net(*inputs[batch])).int()
                                             - eager_images).abs().max())
    return {"ngf": ngf, "gflops_per_image": counter.get_total_flops() / 1e9, "modes": results,
            "others_cpu": others}


def measure(config: tuple, args: argparse.Namespace) -> dict:
    """One generator's figures from a process of its own with an empty compile cache of its own
    (--tiny: from this process; a new one would only add torch's import time)."""
    _, model, size, stage = config
    job = [model, size, stage, args.overrides, args.repeats, args.batch, args.compile, args.bf16]
    if args.tiny:
        return one(*job)
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(job)],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compile", action="store_true",
                        help="also torch.compile each generator (inductor, freezing)")
    parser.add_argument("--bf16", action="store_true",
                        help="also time each generator under bf16 autocast (eager)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure")
    parser.add_argument("--batch", type=int, default=16, help="the throughput batch size")
    parser.add_argument("--models", help="only these labels' models, comma-separated "
                                         "(default: all; e.g. df-gan,fastgan)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: DF-GAN 64 px at width 4, one repeat")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration
    parser.set_defaults(matmul_size=1024, configs=CONFIGS, overrides={})
    args = parse_args(parser, TINY)
    if args.one:
        print(json.dumps(one(*json.loads(args.one))))
        return
    configs = [c for c in args.configs
               if not args.models or c[1] in args.models.split(",") or c[0] in args.models]
    load, peak = os.getloadavg()[0], matmul_rate("float32", args.matmul_size)
    peak_bf16 = matmul_rate("bfloat16", args.matmul_size) if args.bf16 else None
    print(f"measured matmul rate: fp32 {peak:.1f} GFLOP/s"
          + (f", bf16 {peak_bf16:.1f} GFLOP/s" if peak_bf16 else "") + " "
          f"({os.cpu_count()} CPU cores, {torch.get_num_threads()} threads; torch "
          f"{torch.__version__}; load average {load:.1f} at the start)\n")
    print(f"| model | size | width (ngf) | GFLOPs/image | mode | ms/image, batch 1 "
          f"| images/s, batch {args.batch} | ms/image, batch {args.batch} | of matmul rate "
          f"| first call s (batch 1 / {args.batch}) | max diff | CPU taken by others |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for config in configs:
        r = measure(config, args)
        others = " / ".join("n/a" if o is None else f"{o:.0%}" for o in r["others_cpu"])
        for mode, m in r["modes"].items():
            share = m["images_per_s"] * r["gflops_per_image"] / (peak_bf16 if "bf16" in mode
                                                                 else peak)
            diff = "" if mode == "eager" else str(m["max_diff"])
            print(f"| {config[0]} | {config[2]} | {r['ngf']} | {r['gflops_per_image']:.2f} "
                  f"| {mode} | {m['ms_per_image']:.1f} | {m['images_per_s']:.1f} "
                  f"| {1e3 / m['images_per_s']:.1f} | {share:.0%} "
                  f"| {m['first_call_s'][0]:.2f} / {m['first_call_s'][1]:.2f} | {diff} "
                  f"| {others} |", flush=True)


if __name__ == "__main__":
    main()
