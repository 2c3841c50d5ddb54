"""The Python API: load a trained generator once, then make images from text.

    import t2igan

    model = t2igan.load("runs/cats")          # or t2igan.load() for the bundled model
    images = model.generate(["a ginger cat lying on a blue rug"], num=4, seed=0)
    images[0].save("cat.png")                  # PIL images, prompt-major
    arrays = model.generate_arrays(["a red pickup truck at night"])  # uint8 (N, H, W, 3)
    frames = model.interpolate("a black cat", "a white cat", steps=8)
    vectors = model.embed(["a black cat"])     # what G reads: (P, text_dim) float32

Same seed, same images, whichever call made them. A model is safe to share between threads (one
call runs at a time: the sentence encoder's tokenizer is not re-entrant), which is what
`t2igan serve` does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from t2igan.errors import UserError
from t2igan.prompts import clean_prompts
from t2igan.sampling import (
    generate,
    interpolate_noise,
    interpolate_text,
    load_generator,
    prompt_grid,
    write_image_folder,
)
from t2igan.text import embed_texts

# A small GAN-INT-CLS trained by this project on the procedural cats and cars (64x64), installed
# with the package: `t2igan.load()` and every command without --run use it. How it was made and
# how well it draws: docs/results.md, "The bundled model".
BUNDLED_RUN = Path(__file__).parent / "bundled" / "procedural-64"
RECENT = 1024  # prompts whose sentence vectors a model keeps in memory


class TextToImage:
    """A trained generator, its config and its sentence encoder, ready to sample."""

    def __init__(self, run: str | Path | None = None, device: str = "auto",
                 ema: bool = True) -> None:
        self.bundled = run is None
        self.run = BUNDLED_RUN if run is None else Path(run)
        self.G, self.config, self.meta = load_generator(self.run, device, ema)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, torch.Tensor] = OrderedDict()

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) of the images it makes."""
        return self.config.size

    @property
    def description(self) -> str:
        """One line: which model, trained how long, on what."""
        what = "the bundled procedural model" if self.bundled else f"run {self.run}"
        width, height = self.image_size
        return (f"{what}: {self.config.model}, {width}x{height}, step {self.meta['step']:,}, "
                f"trained on {self.config.data}")

    def embed(self, prompts: str | list[str]) -> torch.Tensor:
        """The sentence vectors G reads: (P, text_dim) float32."""
        with self._lock:
            return self._embed(_as_list(prompts))

    def _embed(self, prompts: list[str]) -> torch.Tensor:
        """Sentence vectors, the last RECENT prompts' kept in memory (a page's user changes the
        seed more often than the words); new ones are not written to the embedding store, which
        a server would otherwise rewrite on every request."""
        prompts = clean_prompts(prompts)
        missing = list(dict.fromkeys(p for p in prompts if p not in self._recent))
        if missing:
            vectors = embed_texts(missing, self.config.text_encoder, remember=False)
            self._recent.update(zip(missing, vectors))
        for prompt in prompts:
            self._recent.move_to_end(prompt)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)
        return torch.stack([self._recent[p] for p in prompts])

    def generate_arrays(self, prompts: str | list[str], num: int = 1, seed: int = 0,
                        truncation: float | None = None) -> np.ndarray:
        """`num` images for each prompt, prompt-major: uint8 (P * num, H, W, 3)."""
        _check_count("num", num)
        with self._lock:
            images = generate(self.G, self._embed(_as_list(prompts)), num, seed, truncation)
        return _to_arrays(images)

    def generate(self, prompts: str | list[str], num: int = 1, seed: int = 0,
                 truncation: float | None = None) -> list[Image.Image]:
        """`num` PIL images for each prompt, prompt-major."""
        return _to_pil(self.generate_arrays(prompts, num, seed, truncation))

    def grid(self, prompts: str | list[str], num: int = 8, seed: int = 0,
             truncation: float | None = None) -> Image.Image:
        """One row of `num` images per prompt, the prompt printed under its row."""
        _check_count("num", num)
        prompts = clean_prompts(_as_list(prompts))
        with self._lock:
            return prompt_grid(self.G, prompts, self._embed(prompts), num, seed, truncation)

    def write_folder(self, prompts: list[str], out: str | Path, num: int = 1, seed: int = 0,
                     truncation: float | None = None, batch_size: int = 64,
                     progress: bool = True) -> Path:
        """`num` images per prompt as PNG files plus captions.jsonl (a captioned folder that
        `t2igan evaluate --images` scores); image k of prompt p is the (p * num + k)-th image
        `generate` makes for the same prompts and seed."""
        _check_count("num", num)
        prompts = clean_prompts(prompts)
        with self._lock:
            # a file's prompts are usually a dataset's captions: worth keeping in the store
            text = embed_texts(prompts, self.config.text_encoder)
            return write_image_folder(self.G, prompts, text, out, num, seed, truncation,
                                      batch_size, progress)

    def interpolate(self, start: str, end: str, steps: int = 8, rows: int = 1, seed: int = 0,
                    truncation: float | None = None) -> list[Image.Image]:
        """From the text `start` to the text `end` in `steps` images at fixed noise (the content
        changes, the style stays), for `rows` noise vectors: rows * steps images, row-major."""
        _check_count("rows", rows)
        with self._lock:
            ends = self._embed([start, end])
            images = interpolate_text(self.G, ends[0], ends[1], steps, rows, seed, truncation)
        return _to_pil(_to_arrays(images))

    def interpolate_noise(self, prompts: str | list[str], steps: int = 8, seed: int = 0,
                          to_seed: int = 1, truncation: float | None = None
                          ) -> list[Image.Image]:
        """From the noise of `seed` to that of `to_seed` in `steps` images at fixed text (the
        style changes, the content stays), one row per prompt: P * steps images, row-major."""
        with self._lock:
            images = interpolate_noise(self.G, self._embed(_as_list(prompts)), steps, seed,
                                       to_seed, truncation)
        return _to_pil(_to_arrays(images))


def load(run: str | Path | None = None, device: str = "auto", ema: bool = True) -> TextToImage:
    """The latest checkpoint of a run folder made by `t2igan train` (None: the bundled model), on
    `device` (auto, cpu, cuda, cuda:1, mps); ema=False samples G's raw weights instead of their
    moving average."""
    return TextToImage(run, device, ema)


def _as_list(prompts: str | list[str]) -> list[str]:
    return [prompts] if isinstance(prompts, str) else list(prompts)


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name} must be a whole number of at least 1 (got {value!r})")


def _to_arrays(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).numpy()  # (N, 3, H, W) -> (N, H, W, 3)


def _to_pil(arrays: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(array) for array in arrays]
