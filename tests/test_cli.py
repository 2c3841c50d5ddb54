"""The real `t2igan` entry points on tiny models: train, checkpoint, resume, generate, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import TINY
from t2igan.cli import main
from t2igan.runs import latest_checkpoint, list_checkpoints, read_meta


def train(run: Path, *flags: str) -> int:
    return main(["train", "--out", str(run), *TINY, *flags])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "tiny"
    assert train(run, "--steps", "2") == 0
    return run


def test_train_writes_config_log_samples_and_checkpoint(trained_run: Path) -> None:
    config = json.loads((trained_run / "config.json").read_text())
    assert config["model"] == "gan-int-cls" and config["steps"] == 2 and config["ngf"] == 8
    assert [json.loads(line)["step"]
            for line in (trained_run / "log.jsonl").read_text().splitlines()] == [1, 2]
    assert (trained_run / "samples" / "step-00000002.png").is_file()
    checkpoint = latest_checkpoint(trained_run)
    meta = read_meta(checkpoint)
    assert meta["step"] == 2 and meta["config"]["image_size"] == "32"
    weights = load_file(checkpoint / "weights.safetensors")
    assert any(k.startswith("G.") for k in weights) and any(k.startswith("D.") for k in weights)
    assert not list((trained_run / "checkpoints").glob(".tmp*"))  # nothing half-written left behind


def test_resume_continues_with_the_same_step_count(trained_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train(run, "--steps", "2") == 0
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) == 0
    assert read_meta(latest_checkpoint(run))["step"] == 4
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]


def test_resumed_training_equals_uninterrupted_training(tmp_path: Path) -> None:
    """Optimizer and random-generator state travel with the checkpoint: 2+2 steps == 4 steps."""
    assert train(tmp_path / "straight", "--steps", "4") == 0
    assert train(tmp_path / "split", "--steps", "2") == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "4"]) == 0
    a = load_file(latest_checkpoint(tmp_path / "straight") / "weights.safetensors")
    b = load_file(latest_checkpoint(tmp_path / "split") / "weights.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_generate_is_deterministic_in_the_seed(trained_run: Path, tmp_path: Path) -> None:
    def png(seed: int, name: str) -> bytes:
        out = tmp_path / name
        assert main(["generate", "--run", str(trained_run),
                     "--prompt", "a ginger cat lying on a blue rug", "--num", "3",
                     "--seed", str(seed), "--out", str(out)]) == 0
        return out.read_bytes()

    assert png(1, "a.png") == png(1, "b.png")
    assert png(1, "a.png") != png(2, "c.png")


def test_sigterm_saves_every_finished_step_and_resume_goes_on(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "t2igan", "train", "--out", str(run), *TINY,
               "--steps", "100000", "--checkpoint-every", "100000", "--sample-every", "100000"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = run / "log.jsonl"
    deadline = time.monotonic() + 180
    while not (log.exists() and len(log.read_text().splitlines()) >= 3):
        assert (process.poll() is None
                and time.monotonic() < deadline), process.stderr.read().decode()[-2000:]
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr
    logged = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    saved = read_meta(latest_checkpoint(run))["step"]
    # every finished (and logged) step is in the checkpoint
    assert saved == logged[-1] == len(logged)
    # a quick save: the average keeps G's copied batch-norm statistics, none are measured
    weights = load_file(latest_checkpoint(run) / "weights.safetensors")
    means = [name for name in weights if name.startswith("G.") and name.endswith("running_mean")]
    assert means and all(torch.equal(weights[n], weights["G_ema." + n[2:]]) for n in means)
    assert main(["train", "--out", str(run), "--resume", "--steps", str(saved + 2)]) == 0
    assert read_meta(latest_checkpoint(run))["step"] == saved + 2


# -- bad input: one line on stderr, exit 2, nothing saved is touched --------------------------

def error_of(capsys: pytest.CaptureFixture, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("t2igan: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize("prompt", ["", "   \t "])
def test_empty_prompt(trained_run: Path, capsys: pytest.CaptureFixture, tmp_path: Path,
                      prompt: str) -> None:
    assert "prompt is empty" in error_of(capsys, "generate", "--run", str(trained_run),
                                         "--prompt", prompt, "--out", str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()


def test_unknown_and_incomplete_run_folders(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert "does not exist" in error_of(capsys, "generate", "--run", str(tmp_path / "nope"),
                                        "--prompt", "a cat")
    assert "has no checkpoint" in error_of(capsys, "generate", "--run", str(tmp_path),
                                           "--prompt", "a cat")
    assert "no config.json" in error_of(capsys, "train", "--out", str(tmp_path), "--resume")
    assert "does not exist" in error_of(capsys, "evaluate", "--run", str(tmp_path / "nope"))


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint_is_reported_and_left_alone(trained_run: Path,
                                                       capsys: pytest.CaptureFixture,
                                                       tmp_path: Path, damage: str) -> None:
    run = tmp_path / "run"
    assert train(run, "--steps", "2") == 0
    weights = latest_checkpoint(run) / "weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\x00garbage" * 100)
    damaged = weights.read_bytes()
    before = sorted(p.name for p in list_checkpoints(run))
    assert "is damaged" in error_of(capsys, "generate", "--run", str(run), "--prompt", "a cat")
    assert "is damaged" in error_of(capsys, "train", "--out", str(run), "--resume", "--steps", "3")
    assert (weights.read_bytes() == damaged
            and sorted(p.name for p in list_checkpoints(run)) == before)


def test_image_size_the_model_cannot_make(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    err = error_of(capsys, "train", "--out", str(tmp_path / "r"), *TINY, "--image-size", "48",
                   "--steps", "1")
    assert "cannot make 48x48" in err and "64x64" in err
    assert "not S or WxH" in error_of(capsys, "train", "--out", str(tmp_path / "r"),
                                      "--image-size", "big")


def test_data_folder_without_images_or_captions(capsys: pytest.CaptureFixture,
                                                tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "notes.md").write_text("no images here")
    err = error_of(capsys, "train", "--out", str(tmp_path / "r"), *TINY,
                   "--data", str(tmp_path / "photos"))
    assert "holds no dataset t2igan can read" in err
    assert "does not exist" in error_of(
        capsys, "train", "--out", str(tmp_path / "r"), *TINY, "--data", str(tmp_path / "missing"))


def test_existing_run_is_not_overwritten(trained_run: Path, capsys: pytest.CaptureFixture) -> None:
    before = latest_checkpoint(trained_run)
    assert "already holds a run" in error_of(capsys, "train", "--out", str(trained_run), *TINY,
                                             "--steps", "1")
    assert latest_checkpoint(trained_run) == before


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    # a terminal that cannot show the path's letters gets them escaped, not a UnicodeEncodeError
    run = tmp_path / "kätzchen"
    result = subprocess.run([sys.executable, "-m", "t2igan", "generate", "--run", str(run),
                             "--prompt", "a cat"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert "k\\xe4tzchen does not exist" in result.stderr


@pytest.mark.parametrize("failure, status, line", [
    (PermissionError(13, "Permission denied", "/somewhere/out.png"), 2,
     "t2igan: error: /somewhere/out.png: Permission denied"),
    (MemoryError(), 2, "t2igan: error: out of memory"),
    (ZeroDivisionError("division by zero"), 1,
     "t2igan: internal error: ZeroDivisionError: division by zero (a bug: rerun with --debug"),
])
def test_every_failure_is_one_line_and_the_traceback_waits_for_debug(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, failure: Exception,
        status: int, line: str) -> None:
    from t2igan.cli import training

    def fail(_args: object) -> None:
        raise failure

    monkeypatch.setattr(training, "cmd_models", fail)
    monkeypatch.delenv("T2IGAN_DEBUG", raising=False)
    assert main(["models"]) == status
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1 and "Traceback" not in err
    assert main(["--debug", "models"]) == status
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    monkeypatch.setenv("T2IGAN_DEBUG", "1")
    assert main(["models"]) == status
    assert "Traceback (most recent call last)" in capsys.readouterr().err
