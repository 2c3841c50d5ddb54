"""Sentence vectors standardised by the training captions' statistics (models/text_norm.py)."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from t2igan.api import load
from t2igan.models.text_norm import TextStandardiser, fit_text_statistics, standardise_text_inputs
from t2igan.runs import latest_checkpoint


def test_fit_makes_every_dimension_a_z_score_and_clamps_dimensions_that_hardly_vary() -> None:
    torch.manual_seed(0)
    vectors = torch.randn(500, 6) * torch.tensor([1.0, 2.0, 0.5, 1.0, 1.0, 1e-5]) + 3.0
    norm = TextStandardiser(6)
    norm.fit(vectors)
    standard = norm(vectors)
    assert torch.allclose(standard.mean(0), torch.zeros(6), atol=1e-4)
    assert torch.allclose(standard[:, :5].std(0), torch.ones(5), atol=1e-4)
    # the near-constant dimension is divided by a tenth of the median spread, not by 1e-5
    assert standard[:, 5].abs().max() < 1e-3


def test_captions_that_never_vary_map_every_sentence_to_zero() -> None:
    norm = TextStandardiser(4)
    norm.fit(torch.ones(10, 4))
    assert torch.equal(norm(torch.randn(3, 4)), torch.zeros(3, 4))
    assert torch.equal(norm(torch.ones(1, 4)), torch.zeros(1, 4))  # the training caption too
    assert not norm.steerable


class Recorder(nn.Module):
    def forward(self, images, text, mismatched=None, labels=None):
        self.seen = (text, mismatched)
        return images


def test_the_hook_standardises_text_and_mismatched_however_they_are_passed() -> None:
    d = standardise_text_inputs(Recorder(), 3, judges=True)
    d.text_norm.mean.fill_(1.0), d.text_norm.scale.fill_(2.0)
    text, other = torch.full((2, 3), 2.0), torch.full((2, 3), 3.0)
    d(torch.zeros(2), text, other)
    assert torch.equal(d.seen[0], torch.full((2, 3), 2.0))
    assert torch.equal(d.seen[1], torch.full((2, 3), 4.0))
    d(torch.zeros(2), text=text, mismatched=other)
    assert torch.equal(d.seen[1], torch.full((2, 3), 4.0))
    d(torch.zeros(2), text)
    assert d.seen[1] is None
    g = standardise_text_inputs(Recorder(), 3)  # G's hook leaves any third argument alone
    g.text_norm.scale.fill_(2.0)
    g(torch.zeros(2), text, other)
    assert torch.equal(g.seen[0], 2 * text) and torch.equal(g.seen[1], other)


def test_fit_text_statistics_reaches_nested_standardisers() -> None:
    outer = nn.Sequential(standardise_text_inputs(Recorder(), 2))
    fit_text_statistics([outer], torch.tensor([[0.0, 0.0], [2.0, 4.0]]))
    assert torch.equal(outer[0].text_norm.mean, torch.tensor([1.0, 2.0]))


def test_a_run_carries_its_statistics_to_sampling(tiny_run: Path) -> None:
    weights = load_file(latest_checkpoint(tiny_run) / "weights.safetensors")
    for network in ("G", "D", "G_ema"):
        scale = weights[f"{network}.text_norm.scale"]
        assert not torch.equal(scale, torch.ones_like(scale))  # fitted, not the identity
    G = load(tiny_run).G
    norm = next(m for m in G.modules() if isinstance(m, TextStandardiser))
    assert torch.equal(norm.mean, weights["G_ema.text_norm.mean"])
    assert torch.equal(norm.scale, weights["G_ema.text_norm.scale"])


def test_a_checkpoint_from_before_loads_the_identity() -> None:
    norm = TextStandardiser(3)
    norm.mean.fill_(5.0)
    holder = nn.Module()
    holder.text_norm, holder.layer = norm, nn.Linear(3, 1)
    holder.load_state_dict({"layer.weight": torch.zeros(1, 3), "layer.bias": torch.zeros(1)})
    assert torch.equal(norm.mean, torch.zeros(3)) and torch.equal(norm.scale, torch.ones(3))
    with pytest.raises(RuntimeError):  # other missing tensors are still an error
        holder.load_state_dict({"layer.weight": torch.zeros(1, 3)})


def test_a_run_on_one_caption_draws_the_same_whatever_the_prompt(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    from conftest import TINY
    from t2igan.cli import main

    _class_folders(tmp_path / "photos", ["cat"], 8)  # every image "a photo of a cat"
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "photos"), "--out", str(run), *TINY,
                 "--num-images", "8", "--steps", "2"]) == 0
    capsys.readouterr()
    assert main(["generate", "--run", str(run), "--prompt", "a red truck", "--num", "2",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert "the prompt does not change what it draws" in capsys.readouterr().err
    model = load(run)
    typed = [model.generate_arrays(prompt, num=2, seed=1)
             for prompt in ("a photo of a cat", "a ginger cat with green eyes on a blue rug")]
    assert np.array_equal(typed[0], typed[1])
    assert not model.steerable and load(None).steerable


def test_a_run_on_a_few_captions_draws_another_prompt_as_the_nearest_of_them(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import numpy as np

    from conftest import TINY
    from t2igan.cli import main

    # "a photo of a tabby cat", ...
    _class_folders(tmp_path / "photos", ["tabby cat", "red car", "green frog"])
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "photos"), "--out", str(run), *TINY,
                 "--num-images", "12", "--steps", "2"]) == 0
    model = load(run)
    assert sorted(model.captions) == ["a photo of a green frog", "a photo of a red car",
                                      "a photo of a tabby cat"]
    typed = "a sleepy ginger tabby cat on a sofa"
    assert model.drawn_as([typed, "a photo of a red car"]) == ["a photo of a tabby cat",
                                                               "a photo of a red car"]
    assert np.array_equal(model.generate_arrays(typed, num=2, seed=3),
                          model.generate_arrays("a photo of a tabby cat", num=2, seed=3))
    assert not np.array_equal(model.generate_arrays(typed, num=2, seed=3),
                              model.generate_arrays("a photo of a red car", num=2, seed=3))
    capsys.readouterr()
    assert main(["generate", "--run", str(run), "--prompt", typed, "--num", "2",
                 "--out", str(tmp_path / "grid.png")]) == 0
    assert f'"{typed}" -> "a photo of a tabby cat"' in capsys.readouterr().err
    assert load(None).drawn_as(typed) == [typed]  # the bundled model's captions are many


def _class_folders(root: Path, classes: list[str], per_class: int = 4) -> Path:
    """Random 32-px images in class folders: each class one caption ("a photo of a cat")."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _text_scales(run: Path) -> dict[str, torch.Tensor]:
    weights = load_file(latest_checkpoint(run) / "weights.safetensors")
    return {k: v for k, v in weights.items() if k.endswith("text_norm.scale")}


def test_init_from_a_run_whose_captions_never_varied_fits_this_runs_text(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from conftest import TINY
    from t2igan.cli import main

    def train(data: Path, out: str, *extra: str) -> Path:
        assert main(["train", "--data", str(data), "--out", str(tmp_path / out), *TINY,
                     "--steps", "1", *extra]) == 0
        return tmp_path / out

    cats = train(_class_folders(tmp_path / "cat-photos", ["cat"], 8), "cats")  # one caption
    pets = _class_folders(tmp_path / "pet-photos", ["cat", "dog"])
    capsys.readouterr()
    after_cats = train(pets, "after-cats", "--init-from", str(cats))
    assert "the source run's captions never varied" in capsys.readouterr().err
    assert all(scale.abs().sum() > 0 for scale in _text_scales(after_cats).values())
    # a source whose captions varied keeps its statistics: its weights were learned with them
    zoo = _class_folders(tmp_path / "zoo-photos", ["cat", "dog", "bird"])
    after_pets = train(zoo, "after-pets", "--init-from", str(after_cats))
    kept, source = _text_scales(after_pets), _text_scales(after_cats)
    assert kept.keys() == source.keys()
    assert all(torch.equal(kept[k], source[k]) for k in kept)
