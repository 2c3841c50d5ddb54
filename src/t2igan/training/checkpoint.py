"""Checkpoints: weights in safetensors, metadata in JSON, optimizer and RNG state apart.

    RUN/checkpoints/step-00000500/
        weights.safetensors   every network's tensors, prefixed "G." and "D."
        meta.json             step, model name, the resolved config, versions
        state.pt              optimizer and random-generator state (torch.save, weights_only loadable)

A checkpoint is written into a hidden temporary folder and renamed into place, so a crash or a
kill mid-write never leaves a half checkpoint where a loader would find it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from t2igan.errors import UserError

PREFIX = "step-"


def checkpoint_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def save_checkpoint(run: Path, step: int, networks: dict[str, nn.Module], meta: dict[str, Any],
                    state: dict[str, Any], keep: int = 2) -> Path:
    root = checkpoint_dir(run)
    final = root / f"{PREFIX}{step:08d}"
    tmp = root / f".tmp-{PREFIX}{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tensors = {f"{name}.{key}": value.detach().cpu().contiguous()
               for name, net in networks.items() for key, value in net.state_dict().items()}
    save_file(tensors, tmp / "weights.safetensors")
    torch.save(state, tmp / "state.pt")
    (tmp / "meta.json").write_text(json.dumps({**meta, "step": step}, indent=2))
    if final.exists():  # same step saved twice (e.g. interrupted right after a periodic save)
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(run)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run: Path) -> list[Path]:
    root = checkpoint_dir(run)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def latest_checkpoint(run: Path) -> Path:
    """The newest checkpoint of a run, or a UserError saying what is missing."""
    run = Path(run)
    if not run.is_dir():
        raise UserError(f"run folder {run} does not exist")
    found = list_checkpoints(run)
    if not found:
        raise UserError(f"run folder {run} has no checkpoint (expected {checkpoint_dir(run)}/{PREFIX}NNNNNNNN/)")
    return found[-1]


def read_meta(checkpoint: Path) -> dict[str, Any]:
    path = Path(checkpoint) / "meta.json"
    try:
        meta = json.loads(path.read_text())
        int(meta["step"]), meta["config"]["model"]
        return meta
    except FileNotFoundError:
        raise UserError(f"checkpoint {checkpoint} is incomplete: {path.name} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise UserError(f"checkpoint file {path} is corrupt (not the JSON t2igan writes)") from None


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    weights: dict[str, torch.Tensor]  # "G.<param>", "D.<param>"
    state: dict[str, Any] | None  # optimizer and RNG state; None when loaded for inference


def load_checkpoint(checkpoint: Path, with_state: bool = True) -> Checkpoint:
    """Read and check every file of a checkpoint, or fail with a UserError naming the bad one."""
    checkpoint = Path(checkpoint)
    meta = read_meta(checkpoint)
    weights = _read_file(checkpoint / "weights.safetensors", load_file)
    state = _read_file(checkpoint / "state.pt", lambda p: torch.load(p, map_location="cpu", weights_only=True)) \
        if with_state else None
    return Checkpoint(checkpoint, meta, weights, state)


def _read_file(path: Path, reader: Callable[[Path], Any]) -> Any:
    if not path.is_file():
        raise UserError(f"checkpoint {path.parent} is incomplete: {path.name} is missing")
    try:
        return reader(path)
    except Exception as error:  # safetensors and torch raise many types for damaged files
        detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise UserError(f"checkpoint file {path} is corrupt or truncated ({detail})") from None


def apply_weights(checkpoint: Checkpoint, networks: dict[str, nn.Module]) -> None:
    """Load the "G.", "D."... tensors into the given networks, strictly."""
    for name, net in networks.items():
        part = {key[len(name) + 1:]: value for key, value in checkpoint.weights.items() if key.startswith(f"{name}.")}
        try:
            net.load_state_dict(part)
        except RuntimeError:
            raise UserError(f"checkpoint {checkpoint.path} does not fit the model its meta.json describes") from None
