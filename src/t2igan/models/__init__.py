"""The model zoo: a registry from method name to its generator, discriminator and objective."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from t2igan.errors import UserError
from t2igan.models import gan_int_cls


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    sizes: tuple[tuple[int, int], ...]  # (width, height) the model can make
    build: Callable[..., tuple[nn.Module, nn.Module]]  # (text_dim, config) -> (G, D)
    objective: Callable[..., Any]  # (config) -> object with discriminator_loss / generator_loss

    def check_size(self, size: tuple[int, int]) -> None:
        if size not in self.sizes:
            can = ", ".join(f"{w}x{h}" for w, h in self.sizes)
            raise UserError(f"{self.name} cannot make {size[0]}x{size[1]} images; it makes {can}")


MODELS: dict[str, ModelSpec] = {
    "gan-int-cls": ModelSpec(
        name="gan-int-cls",
        description="Reed et al. 2016: text-conditioned DCGAN, matching-aware D, interpolated text embeddings",
        sizes=gan_int_cls.SIZES,
        build=lambda text_dim, cfg: gan_int_cls.build(text_dim, cfg.size, cfg.nz, cfg.ngf, cfg.ndf, cfg.text_code),
        objective=lambda cfg: gan_int_cls.Objective(cfg.nz),
    ),
}


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name]
