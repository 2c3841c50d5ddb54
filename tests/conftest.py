import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Tiny GAN-INT-CLS settings: a training step takes milliseconds on a CPU.
TINY = ["--model", "gan-int-cls", "--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
        "--text-code", "16", "--batch-size", "4", "--num-images", "24", "--log-every", "1",
        "--sample-every", "2", "--checkpoint-every", "2"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """The free disk under the temporary folder, first in the log: a short disk fails many tests
    at once, each with a long torch.save traceback."""
    free = shutil.disk_usage(tempfile.gettempdir()).free
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"free disk under {tempfile.gettempdir()}: {free / 2**30:.1f} GiB")


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own cache of embeddings and evaluators, and stays offline."""
    os.environ["T2IGAN_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def fake_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random weights in the layouts of the two user-supplied Inception files, under their names
    (torch-fidelity's and torchvision's files cannot be had offline)."""
    from t2igan.metrics import extractors

    folder = tmp_path_factory.mktemp("weights")
    return {mode: extractors.write_random_weights(mode, folder / spec.weights)
            for mode, spec in extractors.MODES.items()}


@pytest.fixture
def no_user_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Inception weights file anywhere a user might put one: the packaged network only."""
    from t2igan.metrics import extractors

    monkeypatch.delenv(extractors.WEIGHTS_VARIABLE, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step tiny GAN-INT-CLS run folder, trained once per session, not to be changed."""
    from t2igan.cli import main

    run = tmp_path_factory.mktemp("runs") / "tiny-session"
    assert main(["train", "--out", str(run), *TINY, "--steps", "2"]) == 0
    return run
