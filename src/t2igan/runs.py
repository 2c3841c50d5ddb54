"""A run folder: everything one training run leaves on disk, and how it is read back.

    RUN/config.json                 the fully resolved config (what --resume starts from)
    RUN/log.jsonl                   losses and speed every --log-every steps; evaluations
    RUN/samples/step-00000500.png   a grid for fixed captions every --sample-every steps
    RUN/checkpoints/step-00000500/
        weights.safetensors         every network's tensors, prefixed "G.", "D." and "G_ema."
        meta.json                   step, model name, the resolved config, text_dim, classes,
                                    version
        state.pt                    optimizer and random-generator state (torch.save,
                                    weights_only loadable)

A checkpoint is written under a hidden temporary name and renamed into place (t2igan.files), so a
crash or a kill mid-write never leaves a half checkpoint where a loader would find it.

This is the low floor that training, sampling and StackGAN's stage II share: it reads and writes
tensors and JSON, and builds no network. Which weights sample (the moving average of G's weights
when the run kept one) is decided here, once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.files import atomic_path, write_json

CONFIG, LOG, SAMPLES, CHECKPOINTS = "config.json", "log.jsonl", "samples", "checkpoints"
PREFIX = "step-"


def checkpoint_dir(run: Path) -> Path:
    return Path(run) / CHECKPOINTS


def sample_path(run: Path, step: int) -> Path:
    return Path(run) / SAMPLES / f"{PREFIX}{step:08d}.png"


def write_config(run: Path, cfg: TrainConfig) -> Path:
    return write_json(Path(run) / CONFIG, cfg.to_dict())


def read_config(run: str | Path) -> TrainConfig:
    """RUN/config.json as a TrainConfig, or a one-line error saying why it cannot be."""
    path = Path(run) / CONFIG
    if not path.is_file():
        raise UserError(f"{run} is not a t2igan run folder: it has no {CONFIG}")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        return TrainConfig(**values)
    except (OSError, ValueError, TypeError) as error:
        raise UserError(f"{path} is not a config t2igan can read "
                        f"({str(error).splitlines()[0]})") from None


def save_checkpoint(run: Path, step: int, networks: dict[str, nn.Module], meta: dict[str, Any],
                    state: dict[str, Any], keep: int = 2) -> Path:
    final = checkpoint_dir(run) / f"{PREFIX}{step:08d}"
    tensors = {f"{name}.{key}": value.detach().cpu().contiguous()
               for name, net in networks.items() for key, value in net.state_dict().items()}
    with atomic_path(final) as folder:
        folder.mkdir()
        save_file(tensors, folder / "weights.safetensors")
        torch.save(state, folder / "state.pt")
        (folder / "meta.json").write_text(json.dumps({**meta, "step": step}, indent=2))
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
        raise UserError(f"run folder {run} has no checkpoint "
                        f"(expected {checkpoint_dir(run)}/{PREFIX}NNNNNNNN/)")
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
    weights: dict[str, torch.Tensor]  # "G.<param>", "D.<param>", "G_ema.<param>"
    state: dict[str, Any] | None  # optimizer and RNG state; None when loaded for inference

    @property
    def config(self) -> TrainConfig:
        """The resolved config the checkpoint was trained with."""
        try:
            return TrainConfig(**self.meta["config"])
        except TypeError as error:
            raise UserError(f"checkpoint {self.path} has a config this version cannot read "
                            f"({error})") from None

    def sampling_network(self, ema: bool = True) -> str:
        """Which generator samples: the moving average of G's weights ("G_ema") when the run kept
        one and `ema` is on, else G's raw weights ("G")."""
        has_ema = any(key.startswith("G_ema.") for key in self.weights)
        return "G_ema" if ema and has_ema else "G"


def load_checkpoint(checkpoint: Path, with_state: bool = True) -> Checkpoint:
    """Read and check every file of a checkpoint, or fail with a UserError naming the bad one."""
    checkpoint = Path(checkpoint)
    meta = read_meta(checkpoint)
    weights = _read_file(checkpoint / "weights.safetensors", load_file)
    state = _read_file(checkpoint / "state.pt",
                       lambda p: torch.load(p, map_location="cpu", weights_only=True)) \
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
        part = {key[len(name) + 1:]: value for key, value in checkpoint.weights.items()
                if key.startswith(f"{name}.")}
        try:
            net.load_state_dict(part)
        except RuntimeError:
            raise UserError(f"checkpoint {checkpoint.path} does not fit the model its meta.json "
                            "describes") from None


def export_for_sampling(run: Path, out: Path) -> Path:
    """A copy of a run's latest checkpoint with only what sampling reads: config.json and one
    checkpoint holding the sampling generator's weights (no D, no optimiser state). It is itself
    a run folder that `generate`, `evaluate`, `serve` and `t2igan.load` accept (the bundled model
    is one)."""
    checkpoint = load_checkpoint(latest_checkpoint(run), with_state=False)
    name = checkpoint.sampling_network()
    weights = {key: value for key, value in checkpoint.weights.items()
               if key.startswith(f"{name}.")}
    step = int(checkpoint.meta["step"])
    with atomic_path(out) as folder:
        final = folder / CHECKPOINTS / f"{PREFIX}{step:08d}"
        final.mkdir(parents=True)
        save_file(weights, final / "weights.safetensors")
        write_json(final / "meta.json", {**checkpoint.meta, "exported_from": str(run)})
        write_config(folder, checkpoint.config)
    return Path(out)
