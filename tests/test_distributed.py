"""Training in several processes (torchrun, gloo on the CPU): N processes make the step one
process makes at the same global batch, every process holds the same weights, rank 0 alone writes,
SIGTERM to the group saves once, and a run resumes with another number of processes."""

import json
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.runs import list_checkpoints
from t2igan.training.batches import Batches, CaptionTable
from t2igan.training.distributed import Group
from t2igan.training.loop import Trainer

WORKER = Path(__file__).with_name("distributed_worker.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def torchrun(processes: int, *command: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", *command]


def worker(out: Path, processes: int, steps: int, models: str) -> None:
    if processes == 1:  # the same code in this process: torchrun would only add its start-up
        runpy.run_path(str(WORKER))["main"](out, steps, models.split(","))
        return
    subprocess.run(torchrun(processes, str(WORKER), str(out), str(steps), models), check=True,
                   env=ENV, capture_output=True, timeout=300)


def log_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_two_processes_train_as_one_at_the_same_global_batch(tmp_path: Path) -> None:
    worker(tmp_path / "one", 1, 4, "df-gan")
    worker(tmp_path / "two", 2, 4, "df-gan")
    one, two = log_lines(tmp_path / "one/df-gan"), log_lines(tmp_path / "two/df-gan")
    assert [line["step"] for line in two] == [1, 2, 3, 4]  # rank 0 alone logged
    # losses averaged over the processes = the global batch's, up to rounding that Adam's first
    # steps amplify: each moves a weight by about +-lr (1e-4) whatever its gradient's size, so a
    # gradient near 0 rounded the other way moves it the other way, and a verdict near 0 (d_wrong
    # at step 2: -0.00607 against -0.00600 on an AVX-512 CPU) shifts by ~1e-4
    for a, b in zip(one, two):
        for key in ("loss_d", "loss_g", "ma_gp", "d_wrong"):
            assert b[key] == pytest.approx(a[key], rel=2e-3, abs=2e-4), (a["step"], key)
    single = torch.load(tmp_path / "one/df-gan/rank0.pt")
    ranks = [torch.load(tmp_path / f"two/df-gan/rank{r}.pt") for r in (0, 1)]
    for key, value in single.items():
        assert torch.equal(ranks[0][key], ranks[1][key]), key  # the same weights everywhere
        # and one process's, up to rounding (Adam's first steps, about +-lr each, amplify it)
        assert torch.allclose(ranks[0][key], value, atol=1e-3), key


def test_every_model_trains_in_two_processes_with_equal_weights(tmp_path: Path) -> None:
    models = "gan-int-cls,tac-gan,stackgan,fastgan"
    worker(tmp_path, 2, 2, models)
    for model in models.split(","):
        ranks = [torch.load(tmp_path / model / f"rank{r}.pt") for r in (0, 1)]
        assert ranks[0].keys() == ranks[1].keys()
        assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0]), model
        assert len(log_lines(tmp_path / model)) == 2
        # a value each process measures for itself reaches all as rank 0's
        assert [(tmp_path / model / f"rank{r}.told").read_text() for r in (0, 1)] == ["1", "1"]


TRAIN = ["-m", "t2igan", "train", "--model", "df-gan", "--image-size", "64", "--ngf", "4",
         "--ndf", "4", "--nz", "8", "--batch-size", "4", "--num-images", "16", "--device", "cpu",
         "--log-every", "1", "--sample-every", "1000", "--checkpoint-every", "1000"]


def test_sigterm_to_the_group_saves_once_and_the_run_resumes_with_one_process(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    group = subprocess.Popen(torchrun(2, *TRAIN, "--out", str(run), "--steps", "100000"),
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
    deadline = time.monotonic() + 120
    while not ((run / "log.jsonl").exists() and len(log_lines(run)) >= 2):
        assert group.poll() is None and time.monotonic() < deadline, group.stderr.read()
        time.sleep(0.2)
    os.killpg(group.pid, signal.SIGTERM)
    _, stderr = group.communicate(timeout=120)
    saved = list_checkpoints(run)
    assert len(saved) == 1, stderr.decode()  # one save, by rank 0, at the step both stopped at
    stopped = json.loads((saved[0] / "meta.json").read_text())["step"]
    assert stopped >= 2 and b"interrupted at step" in stderr
    resumed = subprocess.run([sys.executable, "-m", "t2igan", "train", "--out", str(run),
                              "--resume", "--steps", str(stopped + 2)],
                             env=ENV, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert [line["step"] for line in log_lines(run)][-2:] == [stopped + 1, stopped + 2]


def test_each_process_pairs_its_images_with_the_captions_one_process_would() -> None:
    images = torch.zeros(8, 3, 4, 4, dtype=torch.uint8)
    table = CaptionTable([[f"caption {i}"] for i in range(8)], torch.arange(8.0)[:, None],
                         torch.device("cpu"))

    def batch(rank: int, world: int):  # --mismatches 3: (3, B / world, 1), roll after roll
        rng = torch.Generator().manual_seed(0)
        drawn = Batches(images, table, None, 4, rng, Group(rank, world), mismatches=3)()
        return drawn.text, drawn.mismatched.unflatten(0, (3, -1))

    text, whole = batch(0, 1)
    assert all(torch.equal(whole[k - 1], text.roll(k, 0)) for k in (1, 2, 3))
    halves = [batch(rank, 2)[1] for rank in (0, 1)]
    assert torch.equal(torch.cat(halves, dim=1), whole)


def test_images_that_share_a_caption_are_paired_with_one_that_differs() -> None:
    # a class folder: four cats and two dogs, one caption per class (equal texts, equal vectors)
    vectors = torch.tensor([[0.0], [0.0], [0.0], [0.0], [1.0], [1.0]])
    table = CaptionTable([["a cat"]] * 4 + [["a dog"]] * 2, vectors, torch.device("cpu"))
    assert table.ids.tolist() == [0, 0, 0, 0, 1, 1]
    images = torch.zeros(6, 3, 4, 4, dtype=torch.uint8)
    drawn = Batches(images, table, None, 8, torch.Generator().manual_seed(0), Group())()
    assert 0 < drawn.text.sum() < 8  # both classes drawn: a plain roll would pair cat with cat
    assert drawn.differs.all() and (drawn.mismatched != drawn.text).all()


def test_a_batch_that_does_not_split_is_one_line(tmp_path: Path) -> None:
    cfg = TrainConfig(model="df-gan", ngf=4, ndf=4, nz=8, batch_size=5, num_images=16,
                      device="cpu")
    with pytest.raises(UserError, match="--batch-size 5 does not split over 2 processes"):
        Trainer(cfg, tmp_path, progress=False, group=Group(rank=0, world=2))
