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
from t2igan.text import embed_texts
from t2igan.training.checkpoint import apply_weights, latest_checkpoint, load_checkpoint

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
        raise UserError("the prompt is empty: describe the image, e.g. --prompt \"a ginger cat lying on a blue rug\"")
    return cleaned


def load_generator(run: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, TrainConfig, dict]:
    """The latest checkpoint's generator in eval mode, its config and its metadata."""
    checkpoint = load_checkpoint(latest_checkpoint(Path(run)), with_state=False)
    cfg = TrainConfig(**checkpoint.meta["config"])
    G, _ = get_model(cfg.model).build(checkpoint.meta["text_dim"], cfg)
    apply_weights(checkpoint, {"G": G})
    return G.to(device).eval(), cfg, checkpoint.meta


@torch.no_grad()
def generate(G: nn.Module, text: torch.Tensor, num: int, seed: int, nz: int) -> torch.Tensor:
    """(P, text_dim) sentence vectors -> uint8 (P * num, 3, H, W), prompt-major.

    The noise comes from its own generator seeded by `seed`: same seed, same images.
    """
    device = next(G.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(len(text) * num, nz, generator=rng).to(device)
    vectors = text.to(device).repeat_interleave(num, dim=0)
    return to_uint8(G(z, vectors)).cpu()


def prompt_grid(G: nn.Module, prompts: list[str], text: torch.Tensor, num: int, seed: int, nz: int) -> Image.Image:
    """One row of `num` images per prompt, the prompt printed under its row."""
    return grid_image(generate(G, text, num, seed, nz), captions=prompts, columns=num)


def generate_from_run(run: str | Path, prompts: list[str], num: int = 8, seed: int = 0,
                      device: str = "cpu") -> Image.Image:
    prompts = clean_prompts(prompts)
    G, cfg, _ = load_generator(run, device)
    return prompt_grid(G, prompts, embed_texts(prompts, cfg.text_encoder), num, seed, cfg.nz)
