"""A run folder: everything one training run leaves on disk, and how it is read back.

    RUN/config.json                 the fully resolved config (what --resume starts from)
    RUN/log.jsonl                   losses and speed every --log-every steps; evaluations
    RUN/samples/step-00000500.png   a grid for fixed captions every --sample-every steps
    RUN/checkpoints/step-00000500/
        weights.safetensors         every network's tensors, prefixed "G.", "D." and "G_ema."
        meta.json                   step, model name, the resolved config, text_dim, classes,
                                    the captions when few (prompts.few_captions), version,
                                    and the sha256 of the two other files
        state.pt                    optimizer and random-generator state (torch.save,
                                    weights_only loadable)

A checkpoint is written under a hidden temporary name and renamed into place (t2igan.files), so a
crash or a kill mid-write never leaves a half checkpoint where a loader would find it. Loading
checks each file's sha256 and that the weights are finite; `load_latest` passes over a damaged
checkpoint, with a warning, for the one before it.

This is the low floor that training, sampling and StackGAN's stage II share: it reads and writes
tensors and JSON, and builds no network. Which weights sample (the moving average of G's weights
when the run kept one) is decided here, once.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes
from torch import nn

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.files import atomic_path, check_replaceable, mark_made_by, write_json

CONFIG, LOG, SAMPLES, CHECKPOINTS = "config.json", "log.jsonl", "samples", "checkpoints"
WEIGHTS, STATE, META = "weights.safetensors", "state.pt", "meta.json"
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
        return TrainConfig.saved(values)
    except (OSError, ValueError, TypeError, RecursionError) as error:
        raise UserError(f"{path} is not a config t2igan can read "
                        f"({str(error).splitlines()[0]})") from None


def save_checkpoint(run: Path, step: int, networks: dict[str, nn.Module], meta: dict[str, Any],
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Write RUN/checkpoints/step-N atomically, with the sha256 of each file in its meta.json, and
    keep the newest `keep`. Weights that are not finite are refused: a diverged step must not
    replace the good checkpoints before it."""
    final = checkpoint_dir(run) / f"{PREFIX}{step:08d}"
    tensors = {f"{name}.{key}": value.detach().cpu().contiguous()
               for name, net in networks.items() for key, value in net.state_dict().items()}
    bad = _not_finite(tensors)
    if bad:
        raise UserError(f"training diverged before step {step}: {bad} holds NaN or Inf; the "
                        "checkpoints before it are kept: resume from them with a lower --lr")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    contents = {WEIGHTS: safetensors_bytes(tensors), STATE: buffer.getvalue()}
    checksums = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    with atomic_path(final) as folder:
        folder.mkdir()
        for name, data in contents.items():
            (folder / name).write_bytes(data)
        (folder / META).write_text(json.dumps({**meta, "step": step, "sha256": checksums},
                                              indent=2))
    for old in list_checkpoints(run)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _not_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or Inf, or None."""
    for name, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return name
    return None


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
    """A checkpoint's meta.json, with each field its readers rely on of the right type."""
    path = Path(checkpoint) / META
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"checkpoint {checkpoint} is incomplete: {path.name} is missing") from None
    except (OSError, ValueError, RecursionError):  # JSON and UTF-8 errors are ValueErrors
        raise UserError(f"checkpoint file {path} is corrupt (not the JSON t2igan writes)") from None
    problem = _meta_problem(meta)
    if problem:
        raise UserError(f"checkpoint file {path} is corrupt ({problem})")
    return meta


def _is(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _meta_problem(meta: Any) -> str | None:
    """What is wrong with a meta.json's content, or None (fields that older versions did not
    write may be absent)."""
    if not isinstance(meta, dict):
        return "not a JSON object"
    checks = {
        "step": lambda v: _is(v, int) and v >= 0,
        "config": lambda v: isinstance(v, dict) and isinstance(v.get("model"), str),
        "text_dim": lambda v: _is(v, int) and 0 < v < 1 << 20,
        "classes": lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
        "d_backbone": lambda v: v is None or (isinstance(v, dict) and _is(v.get("name"), str)
                                              and _is(v.get("sha256"), str)),
        "sha256": lambda v: isinstance(v, dict) and all(_is(c, str) for c in v.values()),
    }
    for name, good in checks.items():
        required = name in ("step", "config")
        if (name in meta or required) and not good(meta.get(name)):
            return f"its {name!r} is missing or of the wrong type"
    return None


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
            return TrainConfig.saved(self.meta["config"])
        except TypeError as error:
            raise UserError(f"checkpoint {self.path} has a config this version cannot read "
                            f"({error})") from None

    def sampling_network(self, ema: bool = True) -> str:
        """Which generator samples: the moving average of G's weights ("G_ema") when the run kept
        one and `ema` is on, else G's raw weights ("G")."""
        has_ema = any(key.startswith("G_ema.") for key in self.weights)
        return "G_ema" if ema and has_ema else "G"


def load_checkpoint(checkpoint: Path, with_state: bool = True) -> Checkpoint:
    """Read and check every file of a checkpoint (its sha256 where meta.json lists one, and that
    the weights are finite), or fail with a UserError naming the bad one."""
    checkpoint = Path(checkpoint)
    meta = read_meta(checkpoint)
    checksums = meta.get("sha256") or {}  # checkpoints written before checksums have none
    weights = _read_file(checkpoint / WEIGHTS, checksums, safetensors_load)
    bad = _not_finite(weights)
    if bad:
        raise UserError(f"checkpoint {checkpoint} holds NaN or Inf weights ({bad}): the run "
                        "diverged before it was saved")
    state = _read_file(checkpoint / STATE, checksums,
                       lambda data: torch.load(io.BytesIO(data), map_location="cpu",
                                               weights_only=True)) if with_state else None
    return Checkpoint(checkpoint, meta, weights, state)


def load_latest(run: str | Path, with_state: bool = True) -> Checkpoint:
    """The newest checkpoint of a run that reads back intact. One that fails (a damaged disk, a
    file edited by hand) is passed over, with a warning, for the one before it; if none is intact,
    the newest one's error."""
    latest_checkpoint(run)  # a one-line error when there is none
    found = list_checkpoints(Path(run))
    damaged: list[UserError] = []
    for path in reversed(found):
        try:
            checkpoint = load_checkpoint(path, with_state)
        except UserError as error:
            damaged.append(error)
            continue
        for error in damaged:
            print(f"t2igan: warning: {error}; using {path.name}, the newest intact checkpoint",
                  file=sys.stderr)
        return checkpoint
    earlier = f" (and the {len(found) - 1} before it)" if len(found) > 1 else ""
    raise UserError(f"{damaged[0]}{earlier}")


def _read_file(path: Path, checksums: dict[str, str], reader: Callable[[bytes], Any]) -> Any:
    if not path.is_file():
        raise UserError(f"checkpoint {path.parent} is incomplete: {path.name} is missing")
    data = path.read_bytes()
    expected = checksums.get(path.name) if isinstance(checksums, dict) else "?"
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        raise UserError(f"checkpoint file {path} is damaged: its sha256 differs from the one "
                        "saved in meta.json")
    try:
        return reader(data)
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
    check_replaceable(out, "export")
    checkpoint = load_latest(run, with_state=False)
    name = checkpoint.sampling_network()
    weights = {key: value for key, value in checkpoint.weights.items()
               if key.startswith(f"{name}.")}
    step = int(checkpoint.meta["step"])
    with atomic_path(out) as folder:
        final = folder / CHECKPOINTS / f"{PREFIX}{step:08d}"
        final.mkdir(parents=True)
        data = safetensors_bytes(weights)
        (final / WEIGHTS).write_bytes(data)
        write_json(final / META, {**checkpoint.meta, "exported_from": str(run),
                                  "sha256": {WEIGHTS: hashlib.sha256(data).hexdigest()}})
        write_config(folder, checkpoint.config)
        mark_made_by(folder, "export")
    return Path(out)
