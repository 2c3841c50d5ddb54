"""Generation from a trained run: load its generator, turn text into images, interpolate.

Interpolation follows GAN-INT-CLS (Reed et al. 2016, section 5.3): G's input is noise z (style:
pose, background, layout) and a sentence vector (content). Interpolating the sentence vectors at
fixed noise changes what is drawn and keeps the style; interpolating the noise at fixed text
keeps the content and changes the style."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from t2igan.config import TrainConfig
from t2igan.data.formats.captioned_folder import MANIFEST
from t2igan.errors import UserError
from t2igan.files import atomic_path, check_replaceable, mark_made_by, write_text
from t2igan.images import grid_image, to_uint8
from t2igan.models import build_generator
from t2igan.models.base import Noise
from t2igan.runs import apply_weights, load_latest
from t2igan.runtime import PRECISIONS, autocast, choose_precision, resolve_device

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


def load_generator(run: str | Path, device: str | torch.device = "auto", ema: bool = True,
                   precision: str = "fp32") -> tuple[nn.Module, TrainConfig, dict]:
    """The latest checkpoint's generator in eval mode (the weights that sample, or G's raw weights
    with ema=False), sampling in `precision` (see for_sampling), its config and metadata;
    meta["weights"] and meta["precision"] say which weights were loaded and which precision
    was chosen."""
    checkpoint = load_latest(Path(run), with_state=False)
    cfg = checkpoint.config
    G = build_generator(checkpoint.meta["text_dim"], cfg, len(checkpoint.meta.get("classes", [])))
    weights = checkpoint.sampling_network(ema)
    apply_weights(checkpoint, {weights: G})
    device = resolve_device(device) if isinstance(device, str) else device
    G = for_sampling(G, device, precision)
    chosen = G.precision if isinstance(G, InPrecision) else "fp32"
    return G, cfg, {**checkpoint.meta, "weights": weights, "precision": chosen}


class InPrecision(nn.Module):
    """G run under autocast to bf16 or fp16, its images returned in fp32 (to_uint8 needs the
    full range: bf16 steps by 2 levels of 255 near white)."""

    def __init__(self, G: nn.Module, precision: str) -> None:
        super().__init__()
        self.G, self.precision, self.noise_dim = G, precision, G.noise_dim

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        with autocast(self.precision, z.device):
            return self.G(z, text).float()


def for_sampling(G: nn.Module, device: str | torch.device = "cpu",
                 precision: str = "fp32") -> nn.Module:
    """G on `device` in eval mode with its convolution weights channels_last (NHWC), so that
    every feature map it makes is NHWC too: on a 2-core CPU each generator of the zoo samples
    5-30% faster so, e.g. DF-GAN (nf 32, 256 px, batch 1) in 262 ms instead of 306 ms
    (benchmarks/bench_sampling.py times it). Changes G in place.

    precision: fp32 (the default: the same images on every machine), or auto, bf16, fp16 as
    training's --precision (auto: bf16 where the hardware runs it natively and faster; on an AMD
    CPU with AVX-512 BF16 DF-GAN samples a 256-px image 1.8x faster, each pixel within a few
    levels of fp32's)."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    device = torch.device(device)
    G = G.to(device, memory_format=torch.channels_last).eval()
    chosen = choose_precision(precision, device)
    return G if chosen == "fp32" else InPrecision(G, chosen)


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
    rounding boundary.
    """
    z = seeded_noise(len(text) * num, G.noise_dim, seed, truncation)  # (P * num, noise_dim)
    return render(G, z, text.repeat_interleave(num, dim=0), batch_size)


def render(G: nn.Module, z: torch.Tensor, text: torch.Tensor,
           batch_size: int = 64) -> torch.Tensor:
    """(N, noise_dim) noise and (N, text_dim) sentence vectors -> uint8 (N, 3, H, W), made
    `batch_size` at a time under inference_mode; the images returned are an ordinary tensor."""
    if batch_size < 1:
        raise UserError(f"the batch size must be at least 1 (got {batch_size})")
    device = next(G.parameters()).device
    with torch.inference_mode():
        parts = [to_uint8(G(z[i:i + batch_size].to(device), text[i:i + batch_size].to(device)))
                 .cpu() for i in range(0, len(z), batch_size)]
    # outside inference mode, so callers may change it in place; NCHW whatever G's layout
    return torch.cat(parts).contiguous()


def fractions(steps: int) -> torch.Tensor:
    """`steps` evenly spaced points from 0 to 1, both ends included: (steps, 1)."""
    if steps < 2:
        raise UserError(f"interpolation needs at least 2 steps (got {steps})")
    return torch.linspace(0, 1, steps).unsqueeze(1)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of (D,) vectors a and b at (T, 1) fractions t -> (T, D).

    Gaussian noise lives near a sphere of radius sqrt(D); the straight line between two samples
    dips inside it (to 0.71 of the radius halfway), where G saw no noise in training, so its
    midpoints come out washed out. The arc keeps the radius (White 2016, "Sampling generative
    networks")."""
    omega = torch.arccos(torch.clamp(F.cosine_similarity(a, b, dim=0), -1 + 1e-7, 1 - 1e-7))
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def interpolate_text(G: nn.Module, start: torch.Tensor, end: torch.Tensor, steps: int, rows: int,
                     seed: int, truncation: float | None = None) -> torch.Tensor:
    """(text_dim,) sentence vectors start and end -> uint8 (rows * steps, 3, H, W): row r keeps
    noise r (its style) while the text moves from start to end, linearly as in GAN-INT-CLS (whose
    G trains on such mixtures)."""
    t = fractions(steps)  # (steps, 1)
    text = (1 - t) * start + t * end  # (steps, text_dim)
    z = seeded_noise(rows, G.noise_dim, seed, truncation)  # (rows, noise_dim)
    return render(G, z.repeat_interleave(steps, dim=0), text.repeat(rows, 1))


def interpolate_noise(G: nn.Module, text: torch.Tensor, steps: int, seed: int, to_seed: int,
                      truncation: float | None = None) -> torch.Tensor:
    """(P, text_dim) sentence vectors -> uint8 (P * steps, 3, H, W): row p keeps prompt p (its
    content) while the noise moves along the arc from seed's noise to to_seed's."""
    start = seeded_noise(1, G.noise_dim, seed, truncation)[0]
    end = seeded_noise(1, G.noise_dim, to_seed, truncation)[0]
    z = slerp(start, end, fractions(steps))  # (steps, noise_dim)
    return render(G, z.repeat(len(text), 1), text.repeat_interleave(steps, dim=0))


def write_image_folder(G: nn.Module, prompts: list[str], text: torch.Tensor, out: str | Path,
                       num: int = 1, seed: int = 0, truncation: float | None = None,
                       batch_size: int = 64, progress: bool = True) -> Path:
    """One PNG per image and captions.jsonl, in the captioned-folder format every t2igan command
    reads (`t2igan evaluate --images OUT` scores it): image k of prompt p is
    images/{p * num + k:06d}.png, the same image `generate` makes for it with this seed.

    The folder is written under a temporary name and renamed into place when complete; an
    existing folder at `out` is replaced only when it is empty or one this function wrote, so a
    mistyped --out never deletes a user's files.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder; choose another --out")
    check_replaceable(out, "generate")
    z = seeded_noise(len(text) * num, G.noise_dim, seed, truncation)  # (P * num, noise_dim)
    vectors = text.repeat_interleave(num, dim=0)
    with atomic_path(out) as folder:
        (folder / "images").mkdir(parents=True)
        records = []
        bar = tqdm(total=len(z), desc=f"generating {out}", unit="img", disable=not progress)
        for start in range(0, len(z), batch_size):
            images = render(G, z[start:start + batch_size], vectors[start:start + batch_size],
                            batch_size)
            for index, image in enumerate(images.permute(0, 2, 3, 1).numpy(), start):
                name = f"images/{index:06d}.png"
                Image.fromarray(image).save(folder / name)
                records.append({"file": name, "captions": [prompts[index // num]],
                                "attributes": {"prompt_index": index // num, "seed": seed}})
            bar.update(len(images))
        bar.close()
        write_text(folder / MANIFEST, "".join(json.dumps(r) + "\n" for r in records))
        mark_made_by(folder, "generate")
    return out


def prompt_grid(G: nn.Module, prompts: list[str], text: torch.Tensor, num: int, seed: int,
                truncation: float | None = None) -> Image.Image:
    """One row of `num` images per prompt, the prompt printed under its row."""
    return grid_image(generate(G, text, num, seed, truncation), captions=prompts, columns=num)
