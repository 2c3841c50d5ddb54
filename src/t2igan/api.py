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

Every argument is checked before any work, against the settings below that also make the flags
of `t2igan generate` and `interpolate`: a wrong one is a UserError of one line naming it.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from t2igan import settings
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
from t2igan.settings import a_seed, between, check, setting
from t2igan.text import embed_texts

# A small GAN-INT-CLS trained by this project on the procedural cats and cars (64x64), installed
# with the package: `t2igan.load()` and every command without --run use it. How it was made and
# how well it draws: docs/results.md, "The bundled model".
BUNDLED_RUN = Path(__file__).parent / "bundled" / "procedural-64"
RECENT = 1024  # prompts whose sentence vectors a model keeps in memory
Settings = TypeVar("Settings")
# A grid, an interpolation and generate's images are held in memory (10,000 at 256x256: 2 GB);
# write_folder (`generate --no-grid`) writes any number in batches, 30,000 for FID included.
MAX_IMAGES = 10_000
MAX_FOLDER_IMAGES = 1_000_000
MAX_STEPS, MAX_ROWS = 256, 64  # images along one interpolation; its rows


@dataclass
class NoiseSettings:
    """Which noise G starts from: flags of every command that samples, arguments of the API."""

    seed: int = setting(0, "noise seed: same seed, same images", check=a_seed)
    truncation: float | None = setting(None, "redraw noise values beyond +-T (above 0, at most "
                                       "10): less variety, cleaner images (default: none)",
                                       check=between(0, 10, above=True), metavar="T")

    def __post_init__(self) -> None:
        check(self)


@dataclass
class SamplingSettings(NoiseSettings):
    """How many images `generate` makes, and how many at once."""

    num: int | None = setting(None, f"images per prompt; a grid holds at most {MAX_IMAGES:,} "
                              f"in all, a folder {MAX_FOLDER_IMAGES:,} (default: 8 in a grid, "
                              "else 1)", check=between(1, MAX_FOLDER_IMAGES), metavar="N")
    batch_size: int = setting(64, "images G makes at once (at most 4,096)",
                              check=between(1, 4096))


@dataclass
class InterpolationSettings(NoiseSettings):
    """The images along an interpolation (`interpolate`)."""

    steps: int = setting(8, f"images per row, 2 to {MAX_STEPS}", check=between(2, MAX_STEPS))
    rows: int = setting(4, f"--from/--to: noise vectors, one row each, at most {MAX_ROWS}",
                        check=between(1, MAX_ROWS))
    to_seed: int | None = setting(None, "--prompt: the noise seed to move to (default: --seed "
                                  "+ 1)", check=a_seed)


class TextToImage:
    """A trained generator, its config and its sentence encoder, ready to sample."""

    def __init__(self, run: str | Path | None = None, device: str = "auto",
                 ema: bool = True, precision: str = "fp32") -> None:
        if run is not None and not isinstance(run, str | os.PathLike):
            raise UserError(f"run must be a folder's path, not {type(run).__name__}")
        if not isinstance(device, str | torch.device):  # an int would pick a CUDA device
            raise UserError(f"device must be auto, cpu, cuda or cuda:N, not {device!r}")
        self.bundled = run is None
        self.run = BUNDLED_RUN if run is None else Path(run)
        self.G, self.config, self.meta = load_generator(self.run, device, ema, precision)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, torch.Tensor] = OrderedDict()
        # a labelled set's few training captions (prompts.few_captions), and their vectors
        self.captions: list[str] = self.meta.get("captions") or []
        self._caption_vectors: torch.Tensor | None = None

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

    @property
    def steerable(self) -> bool:
        """Whether a prompt changes what it draws: False for a model trained on one caption for
        every image (a folder of photos under one name), which draws what it learned whatever
        the text."""
        from t2igan.models.text_norm import TextStandardiser

        return all(m.steerable for m in self.G.modules() if isinstance(m, TextStandardiser))

    def embed(self, prompts: str | list[str]) -> torch.Tensor:
        """The sentence vectors G reads: (P, text_dim) float32."""
        prompts = clean_prompts(prompts)
        with self._lock:
            return self._embed(prompts)

    def drawn_as(self, prompts: str | list[str]) -> list[str]:
        """The caption each prompt is drawn from: the prompt itself, except on a run trained on a
        few captions (`captions`: a labelled set, five breed names), where a prompt that is none
        of them draws as the nearest by sentence vector (cosine): G learned those few points of
        sentence space, and between them it draws flat grey."""
        prompts = clean_prompts(prompts)
        if not self.captions:
            return prompts
        with self._lock:
            return [self.captions[i] for i in self._nearest(self._vectors(prompts))]

    def _embed(self, prompts: list[str]) -> torch.Tensor:
        """What G reads for cleaned prompts: their sentence vectors, or on a few-caption run the
        nearest caption's."""
        return self._snapped(self._vectors(prompts))

    def _snapped(self, vectors: torch.Tensor) -> torch.Tensor:
        return self._known_vectors()[self._nearest(vectors)] if self.captions else vectors

    def _nearest(self, vectors: torch.Tensor) -> torch.Tensor:
        """(P,) index of the training caption nearest each sentence vector."""
        known = F.normalize(self._known_vectors(), dim=1)
        return (F.normalize(vectors, dim=1) @ known.T).argmax(dim=1)

    def _known_vectors(self) -> torch.Tensor:
        if self._caption_vectors is None:
            self._caption_vectors = embed_texts(self.captions, self.config.text_encoder,
                                                remember=False)
        return self._caption_vectors

    def _vectors(self, prompts: list[str]) -> torch.Tensor:
        """Sentence vectors of cleaned prompts, the last RECENT prompts' kept in memory (a page's
        user changes the seed more often than the words); new ones are not written to the
        embedding store, which a server would otherwise rewrite on every request."""
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
        how = _checked(SamplingSettings, num=num, seed=seed, truncation=truncation)
        prompts = clean_prompts(prompts)
        _check_in_memory(len(prompts), how.num)
        with self._lock:
            images = generate(self.G, self._embed(prompts), how.num, how.seed, how.truncation)
        return _to_arrays(images)

    def generate(self, prompts: str | list[str], num: int = 1, seed: int = 0,
                 truncation: float | None = None) -> list[Image.Image]:
        """`num` PIL images for each prompt, prompt-major."""
        return _to_pil(self.generate_arrays(prompts, num, seed, truncation))

    def grid(self, prompts: str | list[str], num: int = 8, seed: int = 0,
             truncation: float | None = None) -> Image.Image:
        """One row of `num` images per prompt, the prompt printed under its row."""
        how = _checked(SamplingSettings, num=num, seed=seed, truncation=truncation)
        prompts = clean_prompts(prompts)
        _check_in_memory(len(prompts), how.num)
        with self._lock:
            vectors, labels = self._vectors(prompts), prompts
            if self.captions:  # each row says which caption it was drawn as
                nearest = self._nearest(vectors)
                vectors = self._known_vectors()[nearest]
                drawn = [self.captions[i] for i in nearest.tolist()]
                labels = [p if p == c else f"{p} (drawn as: {c})" for p, c in zip(prompts, drawn)]
            return prompt_grid(self.G, labels, vectors, how.num, how.seed, how.truncation)

    def write_folder(self, prompts: list[str], out: str | Path, num: int = 1, seed: int = 0,
                     truncation: float | None = None, batch_size: int = 64,
                     progress: bool = True) -> Path:
        """`num` images per prompt as PNG files plus captions.jsonl (a captioned folder that
        `t2igan evaluate --images` scores); image k of prompt p is the (p * num + k)-th image
        `generate` makes for the same prompts and seed."""
        how = _checked(SamplingSettings, num=num, seed=seed, truncation=truncation,
                       batch_size=batch_size)
        if not isinstance(out, str | os.PathLike):
            raise UserError(f"out must be a folder's path, not {type(out).__name__}")
        prompts = clean_prompts(prompts)
        if len(prompts) * how.num > MAX_FOLDER_IMAGES:
            raise UserError(f"{len(prompts) * how.num:,} images ({len(prompts):,} prompts x "
                            f"{how.num:,}); at most {MAX_FOLDER_IMAGES:,} in one folder")
        with self._lock:
            # a file's prompts are usually a dataset's captions: worth keeping in the store
            text = self._snapped(embed_texts(prompts, self.config.text_encoder))
            return write_image_folder(self.G, prompts, text, out, how.num, how.seed,
                                      how.truncation, how.batch_size, bool(progress))

    def interpolate(self, start: str, end: str, steps: int = 8, rows: int = 1, seed: int = 0,
                    truncation: float | None = None) -> list[Image.Image]:
        """From the text `start` to the text `end` in `steps` images at fixed noise (the content
        changes, the style stays), for `rows` noise vectors: rows * steps images, row-major."""
        how = _checked(InterpolationSettings, steps=steps, rows=rows, seed=seed,
                       truncation=truncation)
        ends = clean_prompts([start, end])
        _check_in_memory(how.rows, how.steps, "rows")
        with self._lock:
            vectors = self._embed(ends)
            images = interpolate_text(self.G, vectors[0], vectors[1], how.steps, how.rows,
                                      how.seed, how.truncation)
        return _to_pil(_to_arrays(images))

    def interpolate_noise(self, prompts: str | list[str], steps: int = 8, seed: int = 0,
                          to_seed: int = 1, truncation: float | None = None
                          ) -> list[Image.Image]:
        """From the noise of `seed` to that of `to_seed` in `steps` images at fixed text (the
        style changes, the content stays), one row per prompt: P * steps images, row-major."""
        how = _checked(InterpolationSettings, steps=steps, seed=seed, to_seed=to_seed,
                       truncation=truncation)
        prompts = clean_prompts(prompts)
        _check_in_memory(len(prompts), how.steps)
        with self._lock:
            images = interpolate_noise(self.G, self._embed(prompts), how.steps, how.seed,
                                       how.to_seed, how.truncation)
        return _to_pil(_to_arrays(images))


def load(run: str | Path | None = None, device: str = "auto", ema: bool = True,
         precision: str = "fp32") -> TextToImage:
    """The latest checkpoint of a run folder made by `t2igan train` (None: the bundled model), on
    `device` (auto, cpu, cuda, cuda:1, mps); ema=False samples G's raw weights instead of their
    moving average; precision auto (or bf16, fp16) samples faster where the hardware has it,
    fp32 (the default) makes the same images on every machine."""
    return TextToImage(run, device, ema, precision)


def _checked(cls: type[Settings], **values: Any) -> Settings:
    """The API's arguments as the settings that make the flags: an error names the argument, and
    numpy's integers become Python ones (torch's generators take no other)."""
    settings.check_values(cls, values, name=str)
    # None is "no truncation"; for --num and --to-seed it is the command line's default, which
    # the API's signatures spell out
    unset = next((name for name, value in values.items()
                  if value is None and name != "truncation"), None)
    if unset:
        raise UserError(f"{unset} must be a whole number (got None)")
    return cls(**values)


def _check_in_memory(rows: int, per_row: int, what: str = "prompts") -> None:
    if rows * per_row > MAX_IMAGES:
        raise UserError(f"{rows * per_row:,} images at once ({rows:,} {what} x "
                        f"{per_row:,}); at most {MAX_IMAGES:,} are held in memory: a folder "
                        "(`generate --no-grid`, TextToImage.write_folder) takes more, in batches")


def _to_arrays(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).numpy()  # (N, 3, H, W) -> (N, H, W, 3)


def _to_pil(arrays: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(array) for array in arrays]
