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
from typing import Any

import torch
from safetensors import SafetensorError
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


def load_weights(checkpoint: Path, networks: dict[str, nn.Module]) -> None:
    """Load "G.", "D."... tensors into the given networks, strictly."""
    path = Path(checkpoint) / "weights.safetensors"
    try:
        tensors = load_file(path)
    except FileNotFoundError:
        raise UserError(f"checkpoint {checkpoint} is incomplete: {path.name} is missing") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise UserError(f"checkpoint file {path} is corrupt or truncated ({error})") from None
    for name, net in networks.items():
        part = {key[len(name) + 1:]: value for key, value in tensors.items() if key.startswith(f"{name}.")}
        try:
            net.load_state_dict(part)
        except RuntimeError:
            raise UserError(f"checkpoint file {path} does not fit the model its meta.json describes") from None


def load_state(checkpoint: Path) -> dict[str, Any]:
    path = Path(checkpoint) / "state.pt"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"checkpoint {checkpoint} is incomplete: {path.name} is missing") from None
    except Exception as error:  # torch raises several types for a damaged zip/pickle
        raise UserError(f"checkpoint file {path} is corrupt or truncated ({type(error).__name__})") from None
