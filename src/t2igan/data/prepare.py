"""`t2igan data prepare` and `t2igan data check`: decode a source once, and say what is wrong
with it.

Preparing writes the cache described in t2igan.data.cache. Every file that cannot be used is
skipped, counted and listed with its reason in CACHE/report.jsonl; `check` runs the same reading
without writing anything. The split is by a hash of each image's name and the seed, so the same
images are held out however often, and on whatever machine, the cache is rebuilt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from t2igan.data.cache import IMAGES, ITEMS, MANIFEST, REPORT, vectors_file
from t2igan.data.dataset import CaptionedImages
from t2igan.data.memory import usable_items
from t2igan.data.sources import Skipped, Source, count_reasons
from t2igan.errors import UserError
from t2igan.files import atomic_path, check_replaceable, mark_made_by, write_json, write_text
from t2igan.text import embed_texts
from t2igan.text.encoder import ENCODERS


def is_validation(name: str, seed: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def difference_hash(image: torch.Tensor) -> int:
    """64-bit dHash of a uint8 (3, H, W) image: is each of 8x9 grey cells brighter than its left
    neighbour.

    Robust to resizing, compression and small colour changes; equal hashes mark near-duplicates.
    """
    grey = image.float().mean(0, keepdim=True)[None]  # (1, 1, H, W)
    cells = torch.nn.functional.adaptive_avg_pool2d(grey, (8, 9))[0, 0]  # (8, 9)
    bits = (cells[:, 1:] > cells[:, :-1]).flatten()
    return int(sum(int(b) << i for i, b in enumerate(bits.tolist())))


def check_source(source: Source, workers: int = 2, progress: bool = True) -> dict:
    """Decode every image (at a small size) without writing; return the counts and skipped files."""
    dataset = CaptionedImages(source, (32, 32), "stretch")
    skipped, usable, captions = list(source.skipped), 0, 0
    with tqdm(total=len(dataset), desc="checking", unit="img", disable=not progress) as bar:
        for index, (_, caps, _) in usable_items(dataset, skipped, workers):
            usable, captions = usable + 1, captions + len(caps)
            bar.update(index + 1 - bar.n)
    return {"format": source.format, "root": str(source.root), "usable_images": usable,
            "captions": captions, "skipped": len(skipped),
            "skipped_by_reason": count_reasons(skipped),
            "skipped_files": [{"name": s.name, "reason": s.reason} for s in skipped]}


def prepare_cache(source: Source, out: str | Path, size: tuple[int, int], fit: str = "crop",
                  val_fraction: float = 0.05, seed: int = 0, dedup: bool = False,
                  text_encoder: str | None = "minilm", workers: int = 2,
                  progress: bool = True) -> dict:
    """Decode, fit and write every usable image of `source` into a cache at `out`; returns
    cache.json."""
    out, started = Path(out), time.monotonic()
    if (out / MANIFEST).exists():
        raise UserError(f"{out} already holds a cache; delete it or choose another --out")
    check_replaceable(out, "data prepare")  # a user's folder, not an interrupted preparation
    if not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1) (got {val_fraction})")
    # say so before minutes of decoding, not after
    if text_encoder and text_encoder not in ENCODERS:
        raise UserError(f"unknown text encoder {text_encoder!r}; choose from "
                        f"{', '.join(ENCODERS)} or none")
    out.mkdir(parents=True, exist_ok=True)
    mark_made_by(out, "data prepare")
    # Training images first, then validation: each split is one contiguous slice of the map.
    held_out = [is_validation(e.name, seed, val_fraction) for e in source.entries]
    train_entries = [e for e, v in zip(source.entries, held_out) if not v]
    source = dataclasses.replace(source, entries=train_entries
                                 + [e for e, v in zip(source.entries, held_out) if v])
    dataset = CaptionedImages(source, size, fit)
    skipped, items, seen = list(source.skipped), [], {}
    with atomic_path(out / IMAGES) as temporary, open(temporary, "wb") as images, \
            tqdm(total=len(dataset), desc=f"preparing {out}", unit="img",
                 disable=not progress) as bar:
        for index, (image, caps, extras) in usable_items(dataset, skipped, workers):
            bar.update(index + 1 - bar.n)
            name = source.entries[index].name
            if dedup:
                key = difference_hash(image)
                if key in seen:
                    skipped.append(Skipped(name, f"near-duplicate of {seen[key]}"))
                    continue
                seen[key] = name
            images.write(image.permute(1, 2, 0).contiguous().numpy().tobytes())  # (H, W, 3)
            split = "train" if index < len(train_entries) else "val"
            items.append({"name": name, "captions": caps, "extras": extras, "split": split})
        if not items:
            raise UserError(f"no usable image in {source.root}: {len(skipped)} skipped "
                            f"({count_reasons(skipped)})")
    write_text(out / ITEMS, "".join(json.dumps(item) + "\n" for item in items))
    write_text(out / REPORT, "".join(json.dumps({"name": s.name, "reason": s.reason}) + "\n"
                                     for s in skipped))
    if text_encoder:
        vectors = embed_texts([c for item in items for c in item["captions"]], text_encoder)
        with atomic_path(out / vectors_file(text_encoder)) as temporary:
            save_file({"vectors": vectors.contiguous()}, temporary)
    splits = Counter(item["split"] for item in items)
    info = {"version": 1, "source": str(Path(source.root).resolve()), "format": source.format,
            "size": list(size), "fit": fit, "count": len(items), "train": splits["train"],
            "val": splits["val"], "val_fraction": val_fraction, "seed": seed, "dedup": dedup,
            "text_encoder": text_encoder, "skipped": len(skipped),
            "skipped_by_reason": count_reasons(skipped),
            "seconds": round(time.monotonic() - started, 1)}
    write_json(out / MANIFEST, info)  # last: its presence marks a complete cache
    return info
