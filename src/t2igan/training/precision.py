"""Training in the precision chosen (t2igan.runtime.choose_precision): autocast, and in fp16 a
gradient scaler per network (G and D apart, as StudioGAN does: their losses differ by orders of
magnitude, so one scale would underflow one of them or overflow the other).

Autocast runs convolutions and matrix products in the low precision; the losses stay in fp32:
D's verdicts are cast before any loss sees them (`InFloat32`), and MA-GP's gradient norm, D2D-CE's
similarities and StackGAN's KL term are computed in fp32 (t2igan.losses).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from t2igan.models.base import Judgement
from t2igan.runtime import DTYPES, autocast


class MixedPrecision:
    """Autocast for the forward passes and one backward-and-step per network, scaled in fp16."""

    def __init__(self, precision: str, device: torch.device) -> None:
        if precision not in DTYPES:
            raise ValueError(f"precision {precision!r} is not one of {list(DTYPES)}")
        self.precision, self.device = precision, device
        self.scalers = {name: torch.amp.GradScaler(device.type, enabled=precision == "fp16")
                        for name in ("G", "D")}

    def autocast(self) -> torch.autocast:
        return autocast(self.precision, self.device)

    def step(self, network: str, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward `loss` and step `network`'s optimizer ("G" or "D"). In fp16 the loss is scaled
        first and a step whose gradients overflowed is skipped (the scale then shrinks)."""
        scaler = self.scalers[network]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> dict:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, scaler in self.scalers.items():
            if name in state and state[name]:
                scaler.load_state_dict(state[name])


class InFloat32(nn.Module):
    """D whose verdicts (every tensor of its Judgement) are fp32, whatever precision it ran in."""

    def __init__(self, D: nn.Module) -> None:
        super().__init__()
        self.D = D

    def forward(self, *args: object, **kwargs: object) -> Judgement:
        judged = self.D(*args, **kwargs)
        return dataclasses.replace(judged, **{
            field.name: value.float() for field in dataclasses.fields(judged)
            if isinstance(value := getattr(judged, field.name), torch.Tensor)})
