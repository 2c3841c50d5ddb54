"""DiffAugment and the mode-seeking term: what the trainer adds to any model against small data
and collapse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from conftest import TINY
from t2igan import losses
from t2igan.augment import DiffAugment, color, cutout, parse_policy, translation
from t2igan.cli import main
from t2igan.errors import UserError


def rng() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_translation_shifts_whole_images_and_fills_with_zero() -> None:
    x = torch.arange(1, 17.0).view(1, 1, 4, 4).repeat(64, 3, 1, 1)  # no zeros anywhere
    shifted = translation(x, rng(), ratio=0.25)  # up to one pixel each way
    assert shifted.shape == x.shape
    moved = [i for i in range(64) if not torch.equal(shifted[i], x[i])]
    assert moved and all((shifted[i] == 0).any() for i in moved)  # what moves in is zero
    # the centre stays inside the image: values are x's, shifted by +-1
    inner = shifted[:, :, 1:3, 1:3]
    assert set(inner.unique().tolist()) <= set(range(1, 17))


def test_cutout_zeroes_a_quarter_and_color_keeps_the_shape() -> None:
    x = torch.ones(16, 3, 32, 32)
    zeroed = (cutout(x, rng()) == 0).float().mean().item()
    assert 0.15 < zeroed <= 0.25  # a 16x16 square, partly outside the image at times
    y = color(x * 0.5, rng())
    assert y.shape == x.shape and not torch.equal(y, x * 0.5)


def test_gradients_flow_through_every_operation() -> None:
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    DiffAugment("color,translation,cutout", rng())(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_policy_names_are_checked() -> None:
    assert parse_policy("none") == [] and parse_policy("Color, cutout") == ["color", "cutout"]
    with pytest.raises(UserError, match="unknown 'flip'"):
        parse_policy("color,flip")


def test_augmented_training_resumes_exactly(tmp_path: Path) -> None:
    flags = [*TINY, "--augment", "color,translation,cutout"]
    assert main(["train", "--out", str(tmp_path / "whole"), *flags, "--steps", "4"]) == 0
    assert main(["train", "--out", str(tmp_path / "split"), *flags, "--steps", "2"]) == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "4"]) == 0

    def last_losses(run: str) -> dict:
        return json.loads((tmp_path / run / "log.jsonl").read_text().splitlines()[-1])

    whole, split = last_losses("whole"), last_losses("split")
    assert whole["step"] == split["step"] == 4
    assert whole["loss_d"] == pytest.approx(split["loss_d"], abs=1e-6)
    assert whole["loss_g"] == pytest.approx(split["loss_g"], abs=1e-6)


def test_mode_seeking_term_punishes_a_generator_that_ignores_its_noise() -> None:
    z_a, z_b = torch.zeros(4, 8), torch.ones(4, 8)  # noise distance 1
    same = torch.full((4, 3, 8, 8), 0.3)
    varied = same + 0.5
    # 1 / 0.5
    assert losses.mode_seeking_loss(same, varied, z_a, z_b).item() == pytest.approx(2.0, rel=1e-4)
    # collapse: large
    assert losses.mode_seeking_loss(same, same.clone(), z_a, z_b).item() == pytest.approx(1e5)


def test_training_with_the_mode_seeking_term_logs_it(tmp_path: Path) -> None:
    assert main(["train", "--out", str(tmp_path / "r"), *TINY, "--steps", "2",
                 "--mode-seeking", "1"]) == 0
    last = json.loads((tmp_path / "r" / "log.jsonl").read_text().splitlines()[-1])
    assert last["g_mode_seeking"] > 0
