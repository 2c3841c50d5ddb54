"""Reference statistics of a real image set, computed once and cached apart from any scoring.

A reference is the features of the real evaluation split under one extractor (what FID's mean and
covariance and KID's kernel are computed from). It is stored as CACHE/reference/KEY.npz (features,
and their mean and covariance as `mu` and `sigma`, pytorch-fid's layout) beside
KEY.json, which records everything that produced it: the dataset and a fingerprint of its files,
the split, resolution, fit, the extractor and its weights' hash, the sample count. KEY is a hash
of that record, so changing any of it computes new statistics; a stale file is never reused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from t2igan.files import cache_dir, cache_entry


def dataset_fingerprint(spec: str) -> str:
    """A hash that changes when the dataset does: the renderer's source for 'synthetic', the
    manifest of a prepared cache, else every file's relative path, size and modification time."""
    if spec == "synthetic":
        from t2igan.data.synthetic import renderer_fingerprint

        return renderer_fingerprint()
    digest = hashlib.sha256()
    root = Path(spec)
    if (root / "cache.json").is_file():
        digest.update((root / "cache.json").read_bytes())
        return digest.hexdigest()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root) if path != root else path.name}\0{stat.st_size}"
                      f"\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def record_key(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]


def reference_features(record: dict, compute: Callable[[], np.ndarray],
                       directory: Path | None = None) -> np.ndarray:
    """The (N, D) reference features described by `record`, from the cache or from `compute()`.

    The JSON is written after the arrays, and read back and compared in full before they are
    used, so an interrupted write or a hash collision can only cause a recomputation.
    """
    directory = directory or cache_dir() / "reference"
    key = record_key(record)
    arrays, meta = directory / f"{key}.npz", directory / f"{key}.json"
    if arrays.is_file() and meta.is_file():
        try:
            if json.loads(meta.read_text()) == json.loads(json.dumps(record)):
                with np.load(arrays) as stored:
                    return stored["features"].astype(np.float64)
        except (OSError, ValueError, KeyError):  # damaged: it is only a cache
            pass
    features = np.asarray(compute(), dtype=np.float64)
    # float32 on disk: half the size, and far finer than the features' own run-to-run noise.
    # a file object, or numpy adds ".npz"
    with cache_entry(arrays) as temporary, open(temporary, "wb") as f:
        # mu and sigma under pytorch-fid's names, so other tools (and --reference-stats) can read
        # the file.
        np.savez(f, features=features.astype(np.float32), mu=features.mean(axis=0),
                 sigma=np.cov(features, rowvar=False))
    with cache_entry(meta) as temporary:
        temporary.write_text(json.dumps(record, indent=2, sort_keys=True))
    return features.astype(np.float32).astype(np.float64)  # what a later cached read will return
