"""The Logbook: RUN/log.jsonl lines as the loop has always written them, and TensorBoard event
files with the same numbers and the sample grid when asked."""

import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from t2igan import runs
from t2igan.errors import UserError
from t2igan.training.logbook import TENSORBOARD, Logbook


def test_lines_append_across_resumes_in_the_loops_format(tmp_path: Path) -> None:
    log = tmp_path / runs.LOG
    first = Logbook(tmp_path)
    first.step(10, {"loss_d": 1.25, "loss_g": 0.5, "images_per_s": 812.3})
    # flushed at once: a reader sees the line while the run goes on
    assert log.read_text().splitlines() == [
        json.dumps({"step": 10, "loss_d": 1.25, "loss_g": 0.5, "images_per_s": 812.3})]
    first.evaluation(10, {"ms_ssim": 0.31}, 200)
    first.close()
    with Logbook(tmp_path) as resumed:  # --resume opens the same file again
        resumed.step(20, {"loss_d": 1.0, "loss_g": 0.75, "images_per_s": 900.0})
        resumed.samples(20, Image.new("RGB", (8, 8)))  # nothing in log.jsonl
    assert resumed.log.closed
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"step": 10, "loss_d": 1.25, "loss_g": 0.5, "images_per_s": 812.3},
        {"step": 10, "eval": {"ms_ssim": 0.31}, "eval_samples": 200},
        {"step": 20, "loss_d": 1.0, "loss_g": 0.75, "images_per_s": 900.0},
    ]
    assert not (tmp_path / TENSORBOARD).exists()  # only when asked


def test_tensorboard_holds_the_scalars_and_the_grid(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with Logbook(tmp_path, tensorboard=True) as book:
        book.step(1, {"loss_d": 1.5, "loss_g": 0.25})
        book.step(2, {"loss_d": 1.0, "loss_g": 0.5})
        book.evaluation(2, {"ms_ssim": 0.3125}, 100)
        book.samples(2, Image.new("RGB", (40, 24), (255, 0, 0)))  # width 40, height 24
    events = EventAccumulator(str(tmp_path / TENSORBOARD), size_guidance={"images": 0})
    events.Reload()
    tags = events.Tags()
    assert set(tags["scalars"]) == {"train/loss_d", "train/loss_g", "eval/ms_ssim"}
    assert [(e.step, e.value) for e in events.Scalars("train/loss_d")] == [(1, 1.5), (2, 1.0)]
    assert [(e.step, e.value) for e in events.Scalars("train/loss_g")] == [(1, 0.25), (2, 0.5)]
    assert [(e.step, e.value) for e in events.Scalars("eval/ms_ssim")] == [(2, 0.3125)]
    [image] = events.Images("samples")
    assert (image.step, image.width, image.height) == (2, 40, 24)
    # the log holds the same numbers as before
    assert len((tmp_path / runs.LOG).read_text().splitlines()) == 3


def test_missing_tensorboard_is_a_one_line_error(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # as if not installed: torch's own import guard fails on `import tensorboard`
    loaded = ("tensorboard", "torch.utils.tensorboard")
    for name in [n for n in sys.modules if n.startswith(loaded)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(UserError) as error:
        Logbook(tmp_path, tensorboard=True)
    assert "pip install tensorboard" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / runs.LOG).exists()  # nothing opened before the error
