"""Generation from a trained run: load its generator, turn text into images."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import nn

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.images import grid_image, to_uint8
from t2igan.models import get_model
from t2igan.models.base import Noise
from t2igan.runs import apply_weights, latest_checkpoint, load_checkpoint
from t2igan.runtime import resolve_device
from t2igan.text import embed_texts

# Prompts for sample grids during training and for the demo: both subjects, several colours,
# settings, day and night. Each is true of some procedural image.
SAMPLE_PROMPTS = [
    "a ginger cat with green eyes lying on a blue rug",
    "a black cat sitting on the grass at night",
    "a white striped cat sitting on a sofa",
    "a grey spotted cat with yellow eyes lying on a red carpet",
    "a red pickup truck on a city street at night",
    "a blue sedan on a country road during the day",
    "a yellow sports car in a parking lot",
    "a silver van on a city street in daylight",
]


def clean_prompts(prompts: list[str]) -> list[str]:
    cleaned = [" ".join(p.split()) for p in prompts]
    if not cleaned or any(not p for p in cleaned):
        raise UserError("the prompt is empty: describe the image, "
                        "e.g. --prompt \"a ginger cat lying on a blue rug\"")
    return cleaned


def load_generator(run: str | Path, device: str | torch.device = "auto",
                   ema: bool = True) -> tuple[nn.Module, TrainConfig, dict]:
    """The latest checkpoint's generator in eval mode (the weights that sample, or G's raw weights
    with ema=False), its config and metadata; meta["weights"] says which were loaded."""
    checkpoint = load_checkpoint(latest_checkpoint(Path(run)), with_state=False)
    cfg = checkpoint.config
    G, _ = get_model(cfg.model).build(checkpoint.meta["text_dim"], cfg,
                                      len(checkpoint.meta.get("classes", [])))
    weights = checkpoint.sampling_network(ema)
    apply_weights(checkpoint, {weights: G})
    device = resolve_device(device) if isinstance(device, str) else device
    return for_sampling(G, device), cfg, {**checkpoint.meta, "weights": weights}


def for_sampling(G: nn.Module, device: str | torch.device = "cpu") -> nn.Module:
    """G on `device` in eval mode with its convolution weights channels_last (NHWC), so that
    every feature map it makes is NHWC too: on a 2-core CPU each generator of the zoo samples
    5-30% faster so, e.g. DF-GAN (nf 32, 256 px, batch 1) in 262 ms instead of 306 ms
    (benchmarks/bench_sampling.py times it). Changes G in place."""
    return G.to(device, memory_format=torch.channels_last).eval()


def seeded_noise(n: int, dim: int, seed: int, truncation: float | None = None) -> torch.Tensor:
    """(n, dim) noise on the CPU from its own generator seeded by `seed`: same seed, same noise."""
    if truncation is not None and not truncation > 0:
        raise UserError(f"--truncation must be positive (got {truncation})")
    return Noise(dim, torch.Generator().manual_seed(seed))(n, truncation)


def generate(G: nn.Module, text: torch.Tensor, num: int, seed: int,
             truncation: float | None = None, batch_size: int = 64) -> torch.Tensor:
    """(P, text_dim) sentence vectors -> uint8 (P * num, 3, H, W), prompt-major; same seed, same
    images.

    The noise of all P * num images is drawn at once, then G makes them `batch_size` at a time
    (memory stays that of one batch however many prompts), so the images do not depend on
    batch_size, up to float rounding: a matmul's sums run in an order that depends on the batch
    size, which moves G's output by ~1e-7 and can move a pixel by 1 of 255 where it lies on a
    rounding boundary. G runs under inference_mode; the images returned are an ordinary tensor.
    """
    if batch_size < 1:
        raise UserError(f"the batch size must be at least 1 (got {batch_size})")
    device = next(G.parameters()).device
    z = seeded_noise(len(text) * num, G.noise_dim, seed, truncation)  # (P * num, noise_dim)
    vectors = text.repeat_interleave(num, dim=0)  # (P * num, text_dim)
    with torch.inference_mode():
        parts = [to_uint8(G(z[i:i + batch_size].to(device),
                            vectors[i:i + batch_size].to(device))).cpu()
                 for i in range(0, len(z), batch_size)]
    # outside inference mode, so callers may change it in place; NCHW whatever G's layout
    return torch.cat(parts).contiguous()


def prompt_grid(G: nn.Module, prompts: list[str], text: torch.Tensor, num: int, seed: int,
                truncation: float | None = None) -> Image.Image:
    """One row of `num` images per prompt, the prompt printed under its row."""
    return grid_image(generate(G, text, num, seed, truncation), captions=prompts, columns=num)


def generate_from_run(run: str | Path, prompts: list[str], num: int = 8, seed: int = 0,
                      device: str = "auto", truncation: float | None = None,
                      ema: bool = True) -> Image.Image:
    prompts = clean_prompts(prompts)
    G, cfg, _ = load_generator(run, device, ema)
    return prompt_grid(G, prompts, embed_texts(prompts, cfg.text_encoder), num, seed, truncation)
