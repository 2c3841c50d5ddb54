from pathlib import Path

import pytest
import torch

from t2igan import demo
from t2igan.data.synthetic import ATTRIBUTES
from t2igan.metrics import attributes

TINY_RECIPE = {**attributes.RECIPE, "train_images": 96, "val_images": 32, "epochs": 1, "batch": 32}


def test_score_checks_only_what_each_caption_states(monkeypatch: pytest.MonkeyPatch) -> None:
    index = {name: {v: i for i, v in enumerate(values)} for name, values in ATTRIBUTES.items()}
    guesses = {"subject": ["cat", "car"], "color": ["black", "blue"], "time": ["night", "night"]}
    predicted = {name: torch.tensor([index[name][v] for v in guesses.get(name, [values[0]] * 2)])
                 for name, values in ATTRIBUTES.items()}
    monkeypatch.setattr(attributes, "predict", lambda net, images: predicted)
    result = attributes.score(torch.zeros(2, 3, 64, 64, dtype=torch.uint8),
                              ["a black cat", "a red car at night"], None)
    scores = result["attributes"]
    assert scores["subject"] == {"accuracy": 1.0, "count": 2}
    assert scores["color"] == {"accuracy": 0.5, "count": 2}  # the car is red, predicted blue
    assert scores["time"] == {"accuracy": 1.0, "count": 1}  # only the second caption states a time
    assert "pattern" not in scores  # nobody stated it, nobody is scored on it
    assert result["all_stated"] == 0.5


def test_demo_runs_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(attributes, "RECIPE", TINY_RECIPE)
    monkeypatch.setattr(demo, "EVAL_SAMPLES", 16)
    monkeypatch.setattr(demo, "DEMO_CONFIG", {**demo.DEMO_CONFIG, "image_size": "32", "ngf": 4,
                                              "ndf": 4, "batch_size": 4, "mismatches": 3,
                                              "num_images": 16, "steps": 3})
    report = demo.run_demo(tmp_path / "demo", max_minutes=1)
    assert report["step"] == 3
    # real Inception features against as many held-out renders, with no weights flag
    assert report["metrics"]["fid"]["value"] > 0 and report["real_images"] == 16
    assert {"kid", "precision", "recall"} <= set(report["metrics"])
    for name in ("prompts.png", "eval.json", "dataset-sample/captions.jsonl", "run/config.json"):
        assert (tmp_path / "demo" / name).is_file(), name


def test_diversity_is_zero_for_a_collapsed_generator_and_grows_with_variety() -> None:
    from t2igan.metrics.pixel_diversity import diversity

    collapsed = torch.zeros(2, 3, 3, 8, 8, dtype=torch.uint8)  # 2 captions x 3 samples
    collapsed[1] = 255  # the captions differ, the samples of each do not
    result = diversity(collapsed.flatten(0, 1), per_caption=3)
    assert result == {"within_caption": 0.0, "between_captions": 1.0}
    varied = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    assert diversity(varied, per_caption=3)["within_caption"] > 0.3


def test_truncated_noise_stays_within_the_threshold_and_follows_the_seed() -> None:
    from t2igan.sampling import seeded_noise as noise

    z = noise(1000, 16, seed=3, truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    assert torch.equal(z, noise(1000, 16, seed=3, truncation=0.5))
    assert noise(1000, 16, seed=3).abs().max() > 2  # untruncated: the full normal
