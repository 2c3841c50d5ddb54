"""Hard faults: a kill or a full disk at every write, read-only and special outputs, concurrent
writers, damaged checkpoints, signals while loading data. No run is ever left unusable, and every
failure is one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import TINY
from t2igan import files
from t2igan.cli import main
from t2igan.errors import UserError
from t2igan.runs import LOG, list_checkpoints, load_latest, read_meta, save_checkpoint

RUNNER = Path(__file__).with_name("fault_runner.py")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}


def one_line_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("t2igan: error: ") and "\n" not in err and ".tmp" not in err, err
    return err


def test_a_kill_or_a_full_disk_at_every_write_leaves_a_run_that_resumes_to_the_same_weights(
        tmp_path: Path) -> None:
    # its own cache: vectors embedded by another process (other thread counts) may round apart
    env = {**ENV, "T2IGAN_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(RUNNER), str(tmp_path), "kill", "full"],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    points, writes = lines[:-1], lines[-1]["writes"]
    assert writes >= 6  # config, 2 samples, 2 checkpoints, the last sample
    assert len(points) == 2 * (2 * writes + 1)
    for point in points:
        if point["mode"] == "kill":
            assert point["status"] == -signal.SIGKILL, point
        elif point["write"] != "embedding cache":  # a cache that is not saved is a warning
            assert point["status"] == 2, point
            assert point["line"].startswith("t2igan: error: ") and \
                "No space left on device" in point["line"] and ".tmp" not in point["line"], point
        assert point["rerun"] == 0 and point["same_weights"] and point["config_reads"], point
        assert point["leftovers"] == [], point
    print(f"\nfaults: {len(points)} ({writes + 1} writes x 2 moments x kill/ENOSPC), "
          "every run resumed to identical weights")


def mount_tmpfs(point: Path, size: str):  # noqa: ANN201
    """A real tmpfs of `size` at `point`, where the machine lets the tests mount one."""
    point.mkdir(exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root here; the injected faults cover this")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path):  # noqa: ANN201
    """A real 256 KB file system: full at a tiny run's first checkpoint."""
    yield from mount_tmpfs(tmp_path / "small", "256k")


@pytest.fixture
def spare_disk(tmp_path: Path):  # noqa: ANN201
    """A real 16 MB file system, to be made read-only."""
    yield from mount_tmpfs(tmp_path / "spare", "16m")


def test_a_real_full_disk_is_one_line_and_leaves_no_temporary(small_disk: Path,
                                                              capsys: pytest.CaptureFixture
                                                              ) -> None:
    run = small_disk / "run"
    capsys.readouterr()
    assert main(["train", "--out", str(run), *TINY, "--steps", "2"]) == 2
    err = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]  # after progress
    assert err == f"t2igan: error: {run}/checkpoints/step-00000002: No space left on device"
    assert not list(small_disk.rglob("*.tmp")) and not list_checkpoints(run)


def test_a_read_only_output_fails_before_the_work(spare_disk: Path, tiny_run: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    subprocess.run(["cp", "-r", str(tiny_run), str(spare_disk / "run")], check=True)
    (spare_disk / "folder").mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(spare_disk)], check=True)
    for argv in (["train", "--out", str(spare_disk / "new"), *TINY, "--steps", "2"],
                 ["train", "--out", str(spare_disk / "run"), "--resume", "--steps", "4"],
                 ["generate", "--run", str(tiny_run), "--prompt", "a cat",
                  "--out", str(spare_disk / "cat.png")],
                 ["generate", "--run", str(tiny_run), "--prompts-file", str(write_prompts()),
                  "--out", str(spare_disk / "folder")],
                 ["interpolate", "--run", str(tiny_run), "--from", "a cat", "--to", "a car",
                  "--out", str(spare_disk / "i.png")],
                 ["export", "--run", str(tiny_run), "--out", str(spare_disk / "export")],
                 ["evaluate", "--run", str(spare_disk / "run"), "--metrics", "ms-ssim",
                  "--num-samples", "10"]):
        started = time.monotonic()
        err = one_line_error(capsys, *argv)
        assert "Read-only file system" in err, (argv, err)
        assert time.monotonic() - started < 20, argv  # refused before generating anything


def write_prompts() -> Path:
    path = Path(files.cache_dir()) / "prompts.txt"
    files.write_text(path, "a cat\na car\n")
    return path


def test_special_outputs_are_refused_and_left_alone(tiny_run: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    generate = ["generate", "--run", str(tiny_run), "--prompt", "a cat", "--out"]
    assert "device, pipe or socket" in one_line_error(capsys, *generate, str(fifo))
    assert fifo.is_fifo()
    assert "is a file, not a folder" in one_line_error(
        capsys, *generate, str(tmp_path / "a-file" / "x.png"))
    assert "is a folder" in one_line_error(capsys, *generate, str(tmp_path / "a-folder"))
    assert "is a file, not a folder" in one_line_error(
        capsys, "train", "--out", str(tmp_path / "a-file"), *TINY, "--steps", "2")
    assert "cannot write" in one_line_error(capsys, *generate, "/proc/t2igan-test.png")
    if os.geteuid() == 0:  # only root may make a device node: a copy of /dev/null
        device = tmp_path / "null"
        subprocess.run(["mknod", str(device), "c", "1", "3"], check=True)
        assert "device, pipe or socket" in one_line_error(capsys, *generate, str(device))
        assert device.is_char_device()


def hold(path: Path, kind: str) -> subprocess.Popen:
    """Another process that holds `path` as t2igan does while writing it, until killed."""
    code = ("import sys, time; from t2igan import files\n"
            f"with files.claimed({str(path)!r}, {kind!r}):\n"
            "    print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(
        tmp_path: Path, tiny_run: Path, capsys: pytest.CaptureFixture) -> None:
    run, grid = tmp_path / "run", tmp_path / "grid.png"
    for path, kind, argv in (
            (run, "folder", ["train", "--out", str(run), *TINY, "--steps", "2"]),
            (grid, "file", ["generate", "--run", str(tiny_run), "--prompt", "a cat",
                            "--out", str(grid)])):
        holder = hold(path, kind)
        try:
            err = one_line_error(capsys, *argv)
            assert f"being written by process {holder.pid}" in err
        finally:
            holder.kill()
            holder.wait()
        assert files.lock_path(path).exists()  # the dead holder's lock stays behind...
        assert main(argv) == 0  # ...and is taken over
        assert not files.lock_path(path).exists()


def test_a_damaged_checkpoint_falls_back_to_the_one_before_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "4"]) == 0
    newest = list_checkpoints(run)[-1] / "weights.safetensors"
    data = bytearray(newest.read_bytes())
    data[-5] ^= 0xFF  # one flipped bit in a tensor: safetensors alone would load it
    newest.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["generate", "--run", str(run), "--prompt", "a cat",
                 "--out", str(tmp_path / "cat.png")]) == 0
    err = capsys.readouterr().err
    assert "is damaged" in err and "using step-00000002" in err
    assert main(["train", "--out", str(run), "--resume", "--steps", "6"]) == 0
    assert read_meta(list_checkpoints(run)[-1])["step"] == 6


def test_weights_that_are_not_finite_are_never_saved_or_loaded(tmp_path: Path) -> None:
    net = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path, 1, {"G": net}, {"config": {"model": "x"}}, {})
    with torch.no_grad():
        net.weight[0, 0] = float("nan")
    with pytest.raises(UserError, match="diverged before step 2"):
        save_checkpoint(tmp_path, 2, {"G": net}, {"config": {"model": "x"}}, {})
    assert [read_meta(p)["step"] for p in list_checkpoints(tmp_path)] == [1]
    # a NaN written by something else, with a checksum that matches it
    from safetensors.torch import save_file

    newest = tmp_path / "checkpoints" / "step-00000003"
    newest.mkdir()
    save_file({"G.weight": net.weight.detach().clone(), "G.bias": net.bias.detach().clone()},
              newest / "weights.safetensors")
    (newest / "state.pt").write_bytes((list_checkpoints(tmp_path)[0] / "state.pt").read_bytes())
    (newest / "meta.json").write_text(json.dumps({"step": 3, "config": {"model": "x"}}))
    assert load_latest(tmp_path).meta["step"] == 1  # passed over for the finite one


def test_a_resume_removes_a_killed_writers_temporaries_and_its_torn_log_line(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "2"]) == 0
    dead = 2 ** 22 + 1  # above Linux's largest pid: no process has it
    stale = [run / f".config.json.{dead}.tmp", run / "samples" / f".step-00000004.png.{dead}.tmp"]
    for path in stale:
        path.write_bytes(b"half")
    (run / "checkpoints" / f".step-00000004.{dead}.tmp").mkdir()
    with open(run / LOG, "a") as log:
        log.write('{"step": 3, "loss_d": 1.2')  # the kill came mid-line
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) == 0
    assert not list(run.rglob("*.tmp"))
    steps = [json.loads(line)["step"] for line in (run / LOG).read_text().splitlines()]
    assert steps[-2:] == [3, 4]


def photo_folder(root: Path, count: int) -> Path:
    """A captioned folder big enough that loading it uses worker processes (over 512 images)."""
    (root / "images").mkdir(parents=True)
    noise = torch.randint(0, 255, (count, 48, 48, 3), dtype=torch.uint8).numpy()
    lines = []
    for i in range(count):
        Image.fromarray(noise[i]).save(root / "images" / f"{i}.png")
        lines.append(json.dumps({"file": f"images/{i}.png", "captions": ["a cat"]}))
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root


def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_while_loading_data_ends_the_workers_and_prints_one_line(
        tmp_path: Path, signum: int) -> None:
    data = photo_folder(tmp_path / "photos", 3000)
    command = [sys.executable, "-m", "t2igan", "train", "--out", str(tmp_path / "run"), *TINY,
               "--data", str(data), "--num-images", "3000", "--steps", "2"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=ENV)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        workers = children(process.pid)
        time.sleep(0.05)
    assert len(workers) >= 2, "the load ended before its workers were seen"
    process.send_signal(signum)
    err = process.communicate(timeout=60)[1].decode().replace("\r", "\n").strip()
    assert process.returncode == (143 if signum == signal.SIGTERM else -signal.SIGKILL)
    if signum == signal.SIGTERM:
        assert err.splitlines()[-1] == "t2igan: interrupted (SIGTERM)" and "Traceback" not in err
    time.sleep(1)
    assert not [pid for pid in workers if alive(pid)]


@pytest.mark.parametrize("field", ["step", "config", "text_dim", "classes", "d_backbone",
                                   "sha256"])
def test_a_meta_json_field_of_the_wrong_type_is_one_line(tiny_run: Path, tmp_path: Path,
                                                         field: str) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(tiny_run), str(run)], check=True)
    meta_file = list_checkpoints(run)[-1] / "meta.json"
    meta = json.loads(meta_file.read_text())
    for value in ["12", -1, 1.5, True, [], {}, [1], {"name": 3}, None]:
        if (field, value) in (("d_backbone", None), ("classes", []), ("sha256", {})):
            continue  # no backbone, no classes, no checksums: allowed
        meta_file.write_text(json.dumps({**meta, field: value}))
        with pytest.raises(UserError, match=f"corrupt \\(its '{field}'"):
            load_latest(run)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_an_output_that_would_overwrite_a_run_or_a_users_files_is_refused(
        tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(tiny_run), str(run)], check=True)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "settings"}')
    (mine / "captions.jsonl").write_text("")
    assert main(["data", "synth", "--out", str(tmp_path / "ds"), "--num", "2"]) == 0
    before = snapshot(tmp_path)
    generate = ["generate", "--run", str(run), "--prompt", "a cat", "--out"]
    for argv, reason in (
            ([*generate, str(run / "config.json")], "must end in .png"),
            ([*generate, str(mine), "--no-grid"], "did not write"),
            (["export", "--run", str(run), "--out", str(run)], "did not write"),
            (["export", "--run", str(run), "--out", str(run / "checkpoints")], "did not write"),
            (["export", "--run", str(run), "--out", str(mine)], "did not write"),
            (["data", "synth", "--out", str(mine), "--num", "2"], "did not write"),
            (["data", "pack", str(tmp_path / "ds"), "--out", str(mine)], "did not write"),
            (["train", "--out", str(mine), *TINY, "--steps", "2"], "did not write"),
            (["interpolate", "--run", str(run), "--prompt", "a cat", "--out", "."], "is a folder"),
            (["interpolate", "--run", str(run), "--prompt", "a cat", "--out", "/"], "is a folder"),
            (["interpolate", "--run", str(run), "--prompt", "a cat", "--out",
              str(tmp_path / "i.png"), "--animation", str(tmp_path / "i.txt")], ".gif or .webp")):
        assert reason in one_line_error(capsys, *argv), argv
    assert snapshot(tmp_path) == before  # nothing written, nothing replaced


def hostile_prompt_files(folder: Path) -> list[Path]:
    sparse = folder / "sparse.txt"
    with open(sparse, "wb") as handle:
        handle.truncate(1 << 30)  # 1 GB of NUL bytes, no disk used
    (folder / "field.csv").write_text("caption\n" + "a" * 200_000 + "\n")
    (folder / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    (folder / "digits.jsonl").write_text('{"caption": ' + "9" * 5000 + "}\n")
    return [sparse, Path("/dev/zero"), folder / "field.csv", folder / "deep.jsonl",
            folder / "digits.jsonl", folder / "no\nsuch.txt"]  # /dev/zero: read, never ends


def test_a_hostile_prompts_file_is_one_line_and_fast(tiny_run: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    for path in hostile_prompt_files(tmp_path):
        started = time.monotonic()
        one_line_error(capsys, "generate", "--run", str(tiny_run), "--prompts-file", str(path),
                       "--out", str(tmp_path / "out"))  # a newline in the name is escaped
        assert time.monotonic() - started < 10, path


def test_a_run_whose_log_is_a_fifo_is_one_line_not_a_hang(tiny_run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(tiny_run), str(run)], check=True)
    (run / LOG).unlink()
    os.mkfifo(run / LOG)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("t2igan: error: ") and "device, pipe or socket" in last


def test_folders_an_older_version_wrote_unmarked_are_still_their_commands_own(
        tmp_path: Path) -> None:
    from t2igan.cli.training import DEMO_LAYOUT
    from t2igan.training.loop import RUN_LAYOUT

    for layout, names in ((RUN_LAYOUT, ["config.json", "log.jsonl", "samples"]),
                          (DEMO_LAYOUT, ["dataset-sample", "run", "prompts.png"])):
        folder = tmp_path / names[0]
        folder.mkdir()
        for name in names:
            (folder / name).mkdir()
        files.check_replaceable(folder, "the command", layout)  # no marker needed
        (folder / "notes.txt").write_text("the user's")
        with pytest.raises(UserError, match="did not write"):
            files.check_replaceable(folder, "the command", layout)
