"""Starting a run from another run's weights (--init-from), and checking that a checkpoint's
frozen backbone is the one installed.

`--init-from RUN` is the cats-to-cars plan: train on cats, then fine-tune on cars. The new run
takes G, D and the EMA generator from RUN's latest checkpoint and starts at step 0 with fresh
optimiser state. Whatever shapes the networks must match (model, image size, widths, text
encoder, backbone); a class head whose class count differs (cat breeds, then car models) starts
afresh and is named.
"""

from __future__ import annotations

import sys
from pathlib import Path

from torch import nn

from t2igan import runs
from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.pretrained import PACKAGED

# settings that shape the networks: a source run must share them
SHAPING = ("model", "image_size", "nz", "ngf", "ndf", "text_code", "text_encoder", "stage",
           "d_backbone", "d_input_size", "aux_loss")
CLASS_HEADS = ("D.classify.", "D.proxies.")  # sized by the data's classes, not by the settings


def backbone_record(cfg: TrainConfig) -> dict[str, str] | None:
    """The frozen backbone's name and weights hash, as a checkpoint records them (None: none)."""
    if cfg.d_backbone in (None, "none"):
        return None
    return {"name": cfg.d_backbone, "sha256": PACKAGED[cfg.d_backbone].sha256}


def check_backbone(checkpoint: runs.Checkpoint) -> None:
    """A one-line error when the checkpoint was trained on another backbone file than the one
    t2igan loads (which packaged_file checks against the same hash)."""
    saved = checkpoint.meta.get("d_backbone")
    if saved and backbone_record(checkpoint.config) != saved:
        raise UserError(f"checkpoint {checkpoint.path} was trained with {saved['name']} weights "
                        f"of sha256 {saved['sha256'][:12]}, but this t2igan loads "
                        f"{_packaged_sha256(saved['name'])}; use the t2igan version it was "
                        "trained with")


def _packaged_sha256(name: str) -> str:
    return PACKAGED[name].sha256[:12] if name in PACKAGED else f"no network named {name!r}"


def init_source(source: Path, cfg: TrainConfig) -> runs.Checkpoint:
    """`source`'s latest checkpoint, checked against a resolved config before any data is read:
    a one-line error for each setting that shapes the networks and differs."""
    checkpoint = runs.load_latest(source, with_state=False)
    theirs = checkpoint.config
    for name in SHAPING:
        there, here = getattr(theirs, name), getattr(cfg, name)
        if name == "d_backbone":  # runs from before --d-backbone had none
            there = there or "none"
        if there != here:
            raise UserError(f"--init-from {source}: its {name.replace('_', '-')} is {there}, "
                            f"this run's {here}; they must match")
    check_backbone(checkpoint)
    return checkpoint


def start_from(checkpoint: runs.Checkpoint, networks: dict[str, nn.Module]) -> None:
    """Load the checkpoint's G, D and G_ema into `networks` (G_ema from G when it kept none)."""
    weights = dict(checkpoint.weights)
    if "G_ema" in networks and not any(k.startswith("G_ema.") for k in weights):
        weights.update({"G_ema." + k[2:]: v for k, v in weights.items() if k.startswith("G.")})
    own = {f"{name}.{key}": value for name, net in networks.items()
           for key, value in net.state_dict().items()}
    fresh = [k for k in {*weights, *own} if k.startswith(CLASS_HEADS)
             and (k not in own or k not in weights or own[k].shape != weights[k].shape)]
    for key in fresh:  # this run's own initial tensors, or none where it has no class head
        weights.pop(key, None)
        if key in own:
            weights[key] = own[key]
    runs.apply_weights(runs.Checkpoint(checkpoint.path, checkpoint.meta, weights, None),
                       networks)
    if fresh:
        print(f"--init-from: the class head starts afresh ({len(checkpoint.meta['classes'])} "
              "classes there, another count here)", file=sys.stderr)
    print(f"started from {checkpoint.path} (step {checkpoint.meta['step']})", file=sys.stderr)
