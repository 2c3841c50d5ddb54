"""Started by tests/test_faults.py: a tiny training run faulted at each of its file writes in turn.

    python tests/fault_runner.py OUT MODE...    MODE: kill (SIGKILL) or full (an injected ENOSPC)

Every write t2igan makes goes through `t2igan.files.atomic_path`. A first run counts those writes;
then, for each write k and each moment (as the write begins, and with its content written but not
yet renamed into place), a fresh process trains with the fault at that point: `kill` ends it with
SIGKILL, as a crash or the OOM killer would; `full` raises ENOSPC there, as a full disk would. After
each fault the user's next command (train --resume when a checkpoint exists, else train again)
must succeed and end with the same weights as a run that was never faulted. One JSON line per
fault point is printed for the test to check.

The processes are forked from this one after imports, so each costs a training run, not an
interpreter start and a torch import.
"""

import errno
import hashlib
import io
import json
import os
import signal
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import torch

import t2igan.training.loop  # noqa: F401 - imported once, before the forks
from t2igan import files
from t2igan.cli import main as cli
from t2igan.runs import CONFIG, LOG, list_checkpoints, load_latest
from t2igan.text import encoder

STEPS = 4
TINY = ["--model", "gan-int-cls", "--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
        "--text-code", "16", "--batch-size", "4", "--num-images", "24", "--log-every", "1",
        "--sample-every", "2", "--checkpoint-every", "2", "--steps", str(STEPS)]
MOMENTS = ("begin", "written")


def faulted(at: int, moment: str, mode: str):  # noqa: ANN201 - a stand-in for atomic_path
    """atomic_path with a fault at its `at`-th call (1-based), at `moment`."""
    original, calls = files.atomic_path, [0]

    @contextmanager
    def atomic_path(destination):  # noqa: ANN001, ANN202
        calls[0] += 1
        hit = calls[0] == at
        with original(destination) as temporary:
            if hit and moment == "begin":
                fault(mode)
            yield temporary
            if hit and moment == "written":
                fault(mode)

    # modules that imported the helper by name hold it too
    for module in [files, *[m for m in sys.modules.values() if m is not None]]:
        if getattr(module, "atomic_path", None) is original:
            module.atomic_path = atomic_path
    return calls


def fault(mode: str) -> None:
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def in_child(work, *args) -> int:  # noqa: ANN001
    """Run `work(*args)` in a forked process; its exit status (negative: killed by that signal)."""
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            status = work(*args)
        finally:
            os._exit(status)
    _, code = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(code)


def train(run: Path, at: int = 0, moment: str = "", mode: str = "", report: Path | None = None
          ) -> int:
    """The training command, with the fault patched in when `at` > 0; writes the number of
    writes and stderr's last line to `report`."""
    calls = faulted(at, moment, mode) if at or report else [0]
    resume = ["--resume"] if list_checkpoints(run) else []
    stderr = io.StringIO()
    with redirect_stderr(stderr), redirect_stdout(io.StringIO()):
        status = cli(["train", "--out", str(run), *resume, *TINY])
    if report:
        lines = stderr.getvalue().strip().splitlines() or [""]
        report.write_text(json.dumps({"writes": calls[0], "last_line": lines[-1]}))
    return status


def weights_digest(run: Path) -> str:
    checkpoint = load_latest(run, with_state=False)
    digest = hashlib.sha256()
    for key in sorted(checkpoint.weights):
        digest.update(key.encode() + checkpoint.weights[key].numpy().tobytes())
    return digest.hexdigest()


def leftovers(run: Path) -> list[str]:
    """Temporaries left anywhere in or beside the run, and log lines that are not JSON."""
    found = [str(p) for p in run.parent.rglob("*.tmp")]
    for line in (run / LOG).read_text().splitlines() if (run / LOG).exists() else []:
        try:
            json.loads(line)
        except ValueError:
            found.append(f"torn log line {line[:40]!r}")
    return found


def try_each_fault(out: Path, mode: str, at: int, expected: str) -> None:
    """Fault the `at`-th write at each moment, rerun, and print what the user saw."""
    for moment in MOMENTS:
        run = out / f"{mode}-{at}-{moment}" / "run"
        report = run.parent / "fault.json"
        status = in_child(train, run, at, moment, mode, report)
        faulted_line = json.loads(report.read_text())["last_line"] if report.exists() else ""
        rerun = in_child(train, run)
        print(json.dumps({
            "mode": mode, "write": at, "moment": moment, "status": status, "line": faulted_line,
            "rerun": rerun, "same_weights": rerun == 0 and weights_digest(run) == expected,
            "config_reads": (run / CONFIG).is_file(), "leftovers": leftovers(run)}), flush=True)


def cold_cache_train(run: Path, cache: Path, at: int = 0, mode: str = "") -> int:
    """Training with an empty embedding cache, whose first write is then the cache's."""
    os.environ["T2IGAN_CACHE"] = str(cache)
    encoder._STORES.clear()  # this process's copy of the parent's stores
    return train(run, at, "written", mode) if at else train(run)


def try_cache_fault(out: Path, mode: str, expected: str) -> None:
    run, cache = out / f"{mode}-cache" / "run", out / f"{mode}-cache" / "cache"
    status = in_child(cold_cache_train, run, cache, 1, mode)
    rerun = in_child(cold_cache_train, run, cache)
    print(json.dumps({
        "mode": mode, "write": "embedding cache", "moment": "written", "status": status,
        "line": "", "rerun": rerun, "same_weights": rerun == 0 and weights_digest(run) == expected,
        "config_reads": (run / CONFIG).is_file(),
        "leftovers": leftovers(run) + [str(p) for p in cache.rglob("*.tmp")]}), flush=True)


def main(out: Path, modes: list[str]) -> None:
    # one thread: no OpenMP pool exists in this process when it forks
    torch.set_num_threads(1)
    with redirect_stderr(io.StringIO()):
        assert train(out / "warm-up" / "run") == 0  # fills the embedding cache, loads modules
    counted = out / "unfaulted.json"
    assert train(out / "unfaulted" / "run", report=counted) == 0
    writes = json.loads(counted.read_text())["writes"]
    expected = weights_digest(out / "unfaulted" / "run")
    for mode in modes:
        for at in range(1, writes + 1):
            try_each_fault(out, mode, at, expected)
        try_cache_fault(out, mode, expected)
    print(json.dumps({"writes": writes}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
