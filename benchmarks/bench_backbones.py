"""Training speed of every generator against every discriminator backbone, at 64 and 256 px, in
fp32 and bf16: images/s of the real train step (D phase + G phase, DiffAugment on).

`none` is the model's own discriminator (DF-GAN's with MA-GP); the others are the Projected-GAN
discriminator on that frozen ImageNet network. Each cell: one warm-up step, then --steps timed
steps on procedural images, in this process. bf16 on a CPU without native bf16 is emulated
(about 10x slower: the first rows say which this machine is). Prints a Markdown table.

A first table times the backbone's strided depthwise convs (EfficientNet-Lite0's four, as the D
reads 64-px images at 128 px): forward and input gradient, as oneDNN runs them in fp32 and bf16,
and in bf16 through StrideOneDepthwise, which takes that gradient at stride 1.

Usage: python benchmarks/bench_backbones.py [--steps 3] [--sizes 64,256] [--precisions fp32,bf16]
       python benchmarks/bench_backbones.py --tiny   (seconds: width 4, one step, 64 px only)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from benchmark_tools import parse_args

GENERATORS = {  # name -> (settings, sizes it makes among 64 and 256)
    "df-gan": (dict(model="df-gan", ngf=16, ndf=16), (64, 256)),
    "fastgan": (dict(model="fastgan", ngf=16, ndf=16), (64, 256)),
    "gan-int-cls": (dict(model="gan-int-cls", ngf=16, ndf=16), (64,)),
    "tac-gan": (dict(model="tac-gan", ngf=16, ndf=16, label="subject+color"), (64,)),
    "stackgan-I": (dict(model="stackgan", ngf=32, ndf=16), (64,)),
}
BACKBONES = ["none", "efficientnet-lite0", "efficientnet-lite1", "mobilenet-v2"]
BATCH = {64: 32, 256: 8}
TINY = dict(steps=1, sizes="64", precisions="fp32", generators="fastgan,tac-gan",
            backbones="none,mobilenet-v2", overrides=dict(ngf=4, ndf=4, nz=8, text_code=8),
            depthwise_batch=2)
# EfficientNet-Lite0's strided depthwise convs at a 128-px input: channels, kernel, input side
LITE0_STRIDED = [(96, 3, 64), (144, 5, 32), (240, 3, 16), (672, 5, 8)]


def images_per_second(settings: dict, size: int, precision: str, steps: int) -> float:
    from t2igan.config import TrainConfig
    from t2igan.training.loop import Trainer

    batch = settings.pop("batch_size", BATCH[size])
    cfg = TrainConfig(**settings, image_size=str(size), batch_size=batch, precision=precision,
                      num_images=max(2 * batch, 16), augment="color,translation,cutout")
    trainer = Trainer(cfg, tempfile.mkdtemp(prefix="bench-backbones-"), progress=False)
    trainer.train_step()  # warm-up: first-call allocations
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps * batch / (time.perf_counter() - start)


def depthwise_ms(channels: int, kernel: int, side: int, batch: int, way: str) -> float:
    """ms for the forward and input gradient of one strided depthwise conv (timm's TF-ported
    "same" padding), the fastest of 5 after a warm-up; way: fp32, bf16, or bf16 at stride 1."""
    from timm.layers import create_conv2d

    from t2igan.models.backbones import StrideOneDepthwise

    conv = create_conv2d(channels, channels, kernel, stride=2, depthwise=True, padding="same")
    conv.requires_grad_(False)
    module = StrideOneDepthwise(conv) if way == "bf16, stride 1" else conv
    dtype = torch.float32 if way == "fp32" else torch.bfloat16
    x = torch.randn(batch, channels, side, side).to(memory_format=torch.channels_last)
    x = x.to(dtype).requires_grad_(True)
    times = []
    for _ in range(6):
        start = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=dtype == torch.bfloat16):
            y = module(x)
        torch.autograd.grad(y, x, torch.ones_like(y))
        times.append(time.perf_counter() - start)
    return 1000 * min(times[1:])


def print_depthwise(batch: int) -> None:
    ways = ("fp32", "bf16", "bf16, stride 1")
    print(f"\n| strided depthwise conv, batch {batch} | " + " | ".join(f"{w} (ms)" for w in ways)
          + " |\n| --- |" + " ---: |" * len(ways))
    for channels, kernel, side in LITE0_STRIDED:
        ms = [depthwise_ms(channels, kernel, side, batch, way) for way in ways]
        print(f"| {channels} ch, {kernel}x{kernel}, {side} -> {side // 2} | "
              + " | ".join(f"{m:.1f}" for m in ms) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--sizes", default="64,256")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--generators", default=",".join(GENERATORS))
    parser.add_argument("--backbones", default=",".join(BACKBONES))
    parser.add_argument("--depthwise-batch", type=int, default=32,
                        help="batch of the strided depthwise table (0: no such table)")
    parser.add_argument("--tiny", action="store_true", help="smoke test in seconds")
    parser.set_defaults(overrides={})
    args = parse_args(parser, TINY)
    from t2igan.runtime import choose_precision, why_precision

    cpu = torch.device("cpu")
    print(f"--precision auto picks {choose_precision('auto', cpu)} here "
          f"({why_precision('auto', cpu)}); threads: {torch.get_num_threads()}")
    if args.depthwise_batch:
        print_depthwise(args.depthwise_batch)
    print("\n| generator | D backbone | size | batch | precision | images/s |\n"
          "| --- | --- | ---: | ---: | --- | ---: |", flush=True)
    for size in map(int, args.sizes.split(",")):
        for name in args.generators.split(","):
            settings, sizes = GENERATORS[name]
            if size not in sizes:
                continue
            for backbone in args.backbones.split(","):
                for precision in args.precisions.split(","):
                    rate = images_per_second({**settings, **args.overrides,
                                              "d_backbone": backbone}, size, precision,
                                             args.steps)
                    print(f"| {name} | {backbone} | {size} | {BATCH[size]} | {precision} | "
                          f"{rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
