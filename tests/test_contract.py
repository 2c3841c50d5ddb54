"""The model contract (t2igan.models.base) and how the trainer keeps it: every use of G and D goes
through forward(), augmentation happens in front of D, and frozen parameters stay frozen."""

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from t2igan.config import TrainConfig
from t2igan.models import MODELS, base, get_model
from t2igan.models.base import Noise
from t2igan.models.objective import Batch
from t2igan.training.loop import Trainer

TEXT_DIM = 12
SMALL = dict(ngf=8, ndf=4, nz=6, text_code=6, lr=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9)


class OnlyForward(nn.Module):
    """A wrapper that, like DistributedDataParallel, passes on calls and nothing else: an objective
    that reached past forward() (D.features, G.ca...) would fail here with an AttributeError."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.calls = 0

    def forward(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self.network(*args, **kwargs)


CASES = [("gan-int-cls", "32", {}), ("df-gan", "64", {}), ("stackgan", "64", {}),
         ("tac-gan", "32", {}), ("tac-gan", "32", {"aux_loss": "d2d-ce"})]


@pytest.mark.parametrize("model,size,extra", CASES)
def test_objectives_use_g_and_d_only_through_forward(model: str, size: str, extra: dict) -> None:
    cfg = TrainConfig(model=model, image_size=size, **SMALL, **extra)
    G, D = get_model(model).build(TEXT_DIM, cfg, 3)
    assert isinstance(G, base.Generator) and isinstance(D, base.Discriminator)
    side = int(size)
    batch = Batch(torch.rand(4, 3, side, side) * 2 - 1, torch.randn(4, TEXT_DIM),
                  torch.tensor([0, 1, 2, 0]))
    noise = Noise(G.noise_dim, torch.Generator().manual_seed(0))
    wrapped_g, wrapped_d = OnlyForward(G), OnlyForward(D)
    objective = get_model(model).objective(cfg)
    generated = objective.generate(wrapped_g, batch, noise)
    loss_d, _ = objective.discriminator_loss(wrapped_d, batch, generated)
    loss_d.backward()
    assert all(p.grad is None for p in G.parameters())  # D's phase judged G's images detached
    loss_g, _ = objective.generator_loss(wrapped_g, wrapped_d, batch, generated, noise)
    loss_g.backward()
    assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
    assert wrapped_g.calls >= 1 and wrapped_d.calls >= 3  # real and fake in D's phase, fake in G's
    # D's phase reached all of D
    assert all(p.grad is not None for p in D.parameters() if p.requires_grad)


def tiny_trainer(tmp_path: Path, **settings: object) -> Trainer:
    cfg = TrainConfig(model="gan-int-cls", image_size="32", ngf=4, ndf=4, nz=8, text_code=8,
                      batch_size=4, num_images=8, device="cpu", **settings)
    return Trainer(cfg, tmp_path, progress=False)


class WithFrozenStem(base.Discriminator):
    """A discriminator with a frozen first layer, as one on a pretrained backbone has."""

    def __init__(self, D: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 3, 1).requires_grad_(False)
        self.D = D

    def forward(self, images, text, mismatched=None, labels=None):  # base.Discriminator's signature
        return self.D(self.stem(images), text, mismatched, labels)


def test_frozen_parameters_stay_frozen_through_training(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = MODELS["gan-int-cls"]

    def build(*args: object) -> tuple[nn.Module, nn.Module]:
        G, D = spec.build(*args)
        return G, WithFrozenStem(D)

    monkeypatch.setitem(MODELS, "gan-int-cls", dataclasses.replace(spec, build=build))
    trainer = tiny_trainer(tmp_path)
    stem = trainer.D.stem.weight.detach().clone()
    head = trainer.D.D.head[-1].weight.detach().clone()
    for _ in range(2):
        trainer.train_step()
    # G's phase turned D off and back on, but not this
    assert not trainer.D.stem.weight.requires_grad
    assert torch.equal(trainer.D.stem.weight, stem)  # and no optimizer holds it
    assert not torch.equal(trainer.D.D.head[-1].weight, head)  # while the rest of D trained
    assert all(p.requires_grad for p in trainer.D.D.parameters())


def test_the_trainer_augments_every_image_d_sees(tmp_path: Path) -> None:
    trainer = tiny_trainer(tmp_path, augment="cutout")
    assert not hasattr(trainer.D, "augment")  # the discriminator knows nothing of it
    seen = []
    trainer.D.register_forward_pre_hook(lambda _module, args: seen.append(args[0].detach()))
    trainer.train_step()
    # D's phase: real, fake; G's phase: fakes from plain and interpolated text
    assert len(seen) == 4
    # cutout zeroes a 16x16 square (at least its quarter inside the image), all channels
    for images in seen:
        zeros = (images == 0).all(dim=1).flatten(1).sum(1)
        assert (zeros >= 8 * 8).all()


def test_without_augmentation_d_sees_the_batch_itself(tmp_path: Path) -> None:
    trainer = tiny_trainer(tmp_path, precision="fp32")  # bf16 would wrap D in InFloat32
    assert trainer.critic is trainer.D
