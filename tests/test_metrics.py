"""The metrics' arithmetic against known answers, torch-fidelity and scipy; the reference cache."""

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from PIL import Image

from t2igan.metrics import reference
from t2igan.metrics.context import EvalSettings
from t2igan.metrics.fid import Gaussian, fid, fit_gaussian, frechet_distance
from t2igan.metrics.inception_score import inception_score
from t2igan.metrics.kid import kid
from t2igan.metrics.r_precision import r_precision


def random_spd(dim: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


def test_fid_of_a_set_with_itself_is_zero_and_fid_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(500, 16)), rng.normal(1.0, 2.0, size=(400, 16))
    assert abs(fid(a, a)) < 1e-6
    assert fid(a, b) == pytest.approx(fid(b, a), rel=1e-9)
    assert fid(a, b) > 10


def test_frechet_distance_matches_the_closed_form_computed_with_scipy() -> None:
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = random_spd(8, rng), random_spd(8, rng)
    expected = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert (frechet_distance(Gaussian(mu1, s1), Gaussian(mu2, s2))
            == pytest.approx(expected, rel=1e-9))
    # Diagonal covariances: the distance is sum((mu1 - mu2)^2 + (sqrt(v1) - sqrt(v2))^2), by hand.
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    by_hand = 3.0 + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(Gaussian(np.zeros(3), np.diag(v1)),
                            Gaussian(np.ones(3), np.diag(v2))) == pytest.approx(by_hand)


def test_fid_kid_and_is_equal_torch_fidelity_given_the_same_features() -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 32, generator=g), torch.randn(250, 32, generator=g) * 1.5 + 0.3
    theirs = fid_statistics_to_metric(fid_features_to_statistics(a),
                                      fid_features_to_statistics(b), False)
    assert fid(a, b) == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)
    theirs = kid_features_to_metric(a, b, kid_subsets=20, kid_subset_size=100, rng_seed=7,
                                    verbose=False, kid_kernel="poly", kid_kernel_poly_degree=3,
                                    kid_kernel_poly_gamma=None, kid_kernel_poly_coef0=1)
    ours = kid(a, b, subsets=20, subset_size=100, seed=7)
    assert ours["mean"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6)
    assert ours["std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-6)
    logits = torch.randn(200, 10, generator=g) * 3
    theirs = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=5)
    ours = inception_score(logits, splits=10, seed=5)
    assert ours["mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ours["std"] == pytest.approx(theirs["inception_score_std"], rel=1e-6)


def test_inception_score_of_uniform_predictions_is_one_and_of_c_balanced_confident_classes_is_c(
) -> None:
    assert inception_score(torch.zeros(100, 7))["mean"] == pytest.approx(1.0)
    classes = 5
    confident = torch.full((1000, classes), -30.0)
    # each image one class, all balanced
    confident[torch.arange(1000), torch.arange(1000) % classes] = 30.0
    assert inception_score(confident, splits=1)["mean"] == pytest.approx(classes, rel=1e-9)
    # Ten shuffled splits are balanced only roughly, so each scores a little under C.
    assert inception_score(confident, splits=10)["mean"] == pytest.approx(classes, rel=0.05)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_two() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same = kid(a, b, subsets=20, subset_size=300)
    assert abs(same["mean"]) < 3 * same["std"] + 1e-3
    shifted = kid(a, b + 1.0, subsets=20, subset_size=300)
    assert shifted["mean"] > 20 * abs(same["mean"]) and shifted["mean"] > 0.1


def test_r_precision_is_one_for_a_perfect_encoder_and_one_in_a_hundred_for_a_random_one() -> None:
    g = torch.Generator().manual_seed(3)
    texts = torch.randn(3000, 32, generator=g)
    assert r_precision(texts + 0.01 * torch.randn(3000, 32, generator=g), texts)["mean"] == 1.0
    chance = r_precision(torch.randn(3000, 32, generator=g), texts)
    assert 0.003 < chance["mean"] < 0.02 and chance["std"] > 0
    assert r_precision(torch.ones(100, 4), torch.ones(100, 4))["mean"] == 0.0  # ties are not hits


def test_r_precision_never_counts_an_image_own_caption_as_a_mismatch() -> None:
    texts = torch.eye(4).repeat(25, 1)  # 100 images over 4 captions, each caption 25 times
    ids = torch.arange(4).repeat(25)
    # duplicates of its caption are not rivals
    assert r_precision(texts, texts, ids, splits=5)["mean"] == 1.0


def test_reference_cache_is_reused_only_for_the_very_same_record(tmp_path: Path) -> None:
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.random.default_rng(len(calls)).normal(size=(20, 4))

    record = {"data": "x", "fingerprint": "f1", "split": "val", "size": [64, 64], "fit": "crop",
              "count": 20, "extractor": "tiny", "weights_sha256": "abc"}
    first = reference.reference_features(record, compute, tmp_path)
    again = reference.reference_features(dict(record), compute, tmp_path)
    assert len(calls) == 1 and np.array_equal(first, again)
    for changed in ({"weights_sha256": "abd"}, {"count": 19}, {"size": [32, 32]},
                    {"fingerprint": "f2"}):
        reference.reference_features({**record, **changed}, compute, tmp_path)
    assert len(calls) == 5  # every other setting computed its own statistics
    meta = tmp_path / f"{reference.record_key(record)}.json"
    meta.write_text(json.dumps({**record, "count": 999}))  # a record that no longer matches its key
    reference.reference_features(record, compute, tmp_path)
    assert len(calls) == 6


def test_dataset_fingerprint_changes_when_a_file_does(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"1")
    before = reference.dataset_fingerprint(str(tmp_path))
    (tmp_path / "a.jpg").write_bytes(b"12")
    assert reference.dataset_fingerprint(str(tmp_path)) != before
    assert reference.dataset_fingerprint("synthetic") == reference.dataset_fingerprint("synthetic")


def test_fit_gaussian_needs_two_vectors() -> None:
    with pytest.raises(ValueError):
        fit_gaussian(np.zeros((1, 3)))


def test_precision_and_recall_separate_fidelity_from_variety() -> None:
    from t2igan.metrics.precision_recall import precision_recall

    rng = np.random.default_rng(0)
    real = rng.normal(size=(400, 16))
    assert precision_recall(real, real) == {"precision": 1.0, "recall": 1.0}
    # collapse: every generated vector near one real one -> faithful, but no variety
    collapsed = real[:1] + 0.01 * rng.normal(size=(400, 16))
    result = precision_recall(real, collapsed)
    assert result["precision"] == 1.0 and result["recall"] < 0.05
    far = precision_recall(real, real + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}


def test_precision_and_recall_match_the_definition_computed_naively() -> None:
    from t2igan.metrics.precision_recall import precision_recall

    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(60, 5)), rng.normal(0.5, 1.2, size=(50, 5))

    def inside(points: np.ndarray, centres: np.ndarray) -> float:
        within = np.linalg.norm(centres[:, None] - centres[None], axis=2)
        radii = np.sort(within, axis=1)[:, 3]  # k=3, the 0th is the centre itself
        across = np.linalg.norm(points[:, None] - centres[None], axis=2)
        return float((across <= radii[None]).any(axis=1).mean())

    result = precision_recall(real, fake)
    assert result["precision"] == pytest.approx(inside(fake, real), abs=1e-6)
    assert result["recall"] == pytest.approx(inside(real, fake), abs=1e-6)


def test_recognised_counts_the_subjects_classes_in_the_top_five() -> None:
    from t2igan.metrics.recognition import IMAGENET_CLASSES, recognised, subjects

    assert subjects(["a photo of a 2012 Audi TTS Coupe", "a ginger kitten on a rug",
                     "a pickup truck at night", "a bowl of fruit"]) == ["car", "cat", "car", None]
    logits = torch.zeros(4, 1000)
    logits[0, IMAGENET_CLASSES["cat"][0]] = 5  # a cat, named a tabby first
    logits[1, IMAGENET_CLASSES["car"][0]] = 5  # a cat caption, named a vehicle: not recognised
    logits[1, 1:5] = 9
    logits[2, list(range(4)) + [IMAGENET_CLASSES["car"][-1]]] = torch.tensor([9, 8, 7, 6, 5.])
    logits[3, IMAGENET_CLASSES["cat"][1]] = 5  # no subject named: not counted
    result = recognised(logits, ["cat", "cat", "car", None])
    assert result == {"share": 2 / 3, "counted": 3, "by_subject": {"car": 1.0, "cat": 0.5}}
    logits[2, 0:5] = 10  # the car class falls to sixth place
    assert recognised(logits, ["cat", "cat", "car", None])["by_subject"]["car"] == 0.0
    assert recognised(logits, [None] * 4) == {"share": None, "counted": 0, "by_subject": {}}


def test_a_folder_whose_captions_name_no_cat_or_car_skips_recognised(tmp_path: Path) -> None:
    from t2igan.evaluate import evaluate_images

    folder = tmp_path / "bowls"
    folder.mkdir()
    for i in range(10):
        Image.new("RGB", (32, 32), (20 * i, 90, 200)).save(folder / f"{i}.png")
    (folder / "captions.jsonl").write_text("".join(
        json.dumps({"file": f"{i}.png", "captions": ["a bowl of fruit"]}) + "\n"
        for i in range(10)))
    report = evaluate_images(folder, "synthetic", ["recognised"], None,
                             EvalSettings(progress=False))
    assert report["metrics"] == {}
    assert report["skipped"] == {"recognised": "no caption names a cat or a car"}
