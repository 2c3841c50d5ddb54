"""Where t2igan keeps what it derives, and the one way it writes a file or a folder: atomically.

Everything t2igan writes (checkpoints, config.json, sample grids, caches, eval reports, encoders)
goes through `atomic_path`: it is written under a hidden temporary name beside its destination and
renamed into place only when complete, so a reader never sees half of it and a crash or a kill
leaves at most a `.NAME.PID.tmp` behind, never a damaged file under the real name.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def cache_dir() -> Path:
    """Where derived data is cached (embeddings, evaluators, reference statistics): $T2IGAN_CACHE,
    else ~/.cache/t2igan."""
    return Path(os.environ.get("T2IGAN_CACHE", Path.home() / ".cache" / "t2igan"))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_path(destination: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `destination` for the block to write a file or a folder at; renamed
    onto `destination` when the block ends normally, removed when it raises."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    _remove(temporary)
    try:
        yield temporary
        # os.replace cannot replace a folder that has files
        if temporary.is_dir() and destination.is_dir():
            shutil.rmtree(destination)
        os.replace(temporary, destination)
    except BaseException:
        _remove(temporary)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: Any) -> Path:
    return write_text(path, json.dumps(value, indent=2) + "\n")
