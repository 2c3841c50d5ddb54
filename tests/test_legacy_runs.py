"""Runs made by an earlier version still load, generate the same images and resume."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2igan.cli import main

LEGACY = Path(__file__).parent / "fixtures" / "legacy-runs"
PROMPTS = ["--prompt", "a ginger cat lying on a blue rug",
           "--prompt", "a red pickup truck on a city street at night"]


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def assert_same_image(made: Path, expected: Path) -> None:
    """Equal, up to a rounding step where another CPU's kernels sum in another order."""
    a, b = pixels(made), pixels(expected)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.05


@pytest.mark.parametrize("model", ["gan-int-cls", "df-gan", "stackgan", "tac-gan"])
def test_a_legacy_run_generates_the_same_images(model: str, tmp_path: Path) -> None:
    run = shutil.copytree(LEGACY / model, tmp_path / model)
    out = tmp_path / "made.png"
    assert main(["generate", "--run", str(run), *PROMPTS, "--num", "3", "--seed", "7",
                 "--out", str(out)]) == 0
    assert_same_image(out, LEGACY / f"expected-{model}.png")


def test_a_legacy_run_generates_the_same_images_from_raw_weights_with_truncation(
        tmp_path: Path) -> None:
    run = shutil.copytree(LEGACY / "gan-int-cls", tmp_path / "run")
    out = tmp_path / "made.png"
    assert main(["generate", "--run", str(run), "--prompt", "a white cat", "--num", "2",
                 "--seed", "3", "--no-ema", "--truncation", "0.5", "--out", str(out)]) == 0
    assert_same_image(out, LEGACY / "expected-gan-int-cls-raw.png")


def test_a_legacy_run_resumes(tmp_path: Path) -> None:
    run = shutil.copytree(LEGACY / "gan-int-cls", tmp_path / "run")
    assert main(["train", "--out", str(run), "--resume", "--steps", "5"]) == 0
    assert json.loads((run / "config.json").read_text())["steps"] == 5
    assert sorted(p.name for p in (run / "checkpoints").iterdir())[-1] == "step-00000005"
