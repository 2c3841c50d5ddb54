"""Everything a training run records goes through one Logbook, so that TensorBoard is an option
(--tensorboard, as StudioGAN and stylegan users expect) and not a second code path beside
RUN/log.jsonl.

RUN/log.jsonl is always written: one JSON line per call, flushed at once, appended across resumes
(t2igan.runs describes it; benchmarks read it); a line a kill cut short is dropped on resume.
With tensorboard=True the same numbers, and the sample grids, also go to event files in
RUN/tensorboard: `tensorboard --logdir RUN`.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from t2igan import runs
from t2igan.errors import UserError
from t2igan.files import refuse_special

if TYPE_CHECKING:
    from PIL import Image

TENSORBOARD = "tensorboard"  # RUN/tensorboard: the event files


def drop_torn_line(path: Path) -> None:
    """Cut a last line that a kill left without its newline, so that the lines appended after it
    stay whole JSON (log.jsonl is appended to, not written atomically like every other file)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - 65536))  # a line is far shorter than this
        tail = log.read()
        if not tail.endswith(b"\n"):
            log.truncate(size - len(tail) + tail.rfind(b"\n") + 1)


class Logbook:
    """RUN/log.jsonl, and TensorBoard event files in RUN/tensorboard when asked."""

    def __init__(self, run: Path, tensorboard: bool = False, start: int = 0) -> None:
        """`start`: the step a resumed run continues from; TensorBoard drops what a killed run had
        logged after it (log.jsonl keeps every line, as the run wrote them)."""
        self.writer: Any = None
        if tensorboard:  # imported only when asked: tensorboard is heavy and optional at run time
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UserError("--tensorboard needs the tensorboard package: "
                                "pip install tensorboard") from None
            self.writer = SummaryWriter(str(Path(run) / TENSORBOARD), purge_step=start or None)
        path = Path(run) / runs.LOG
        refuse_special(path)  # a fifo would block the run at its first line
        drop_torn_line(path)
        self.log = open(path, "a", encoding="utf-8")

    def _line(self, record: dict[str, Any]) -> None:
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()  # a reader (or a crash) sees every line written so far

    def step(self, step: int, values: dict[str, float]) -> None:
        """Losses and speed: {"step": step, **values}; TensorBoard scalars "train/<name>"."""
        self._line({"step": step, **values})
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(f"train/{name}", value, step)

    def evaluation(self, step: int, scores: dict[str, float], samples: int) -> None:
        """Metric scores on `samples` images; TensorBoard scalars "eval/<name>"."""
        self._line({"step": step, "eval": scores, "eval_samples": samples})
        if self.writer is not None:
            for name, value in scores.items():
                self.writer.add_scalar(f"eval/{name}", value, step)
            self.writer.flush()  # evaluations are rare and worth seeing at once

    def samples(self, step: int, grid: Image.Image) -> None:
        """The sample grid as TensorBoard image "samples" (RUN/samples holds the PNG files)."""
        if self.writer is not None:
            pixels = np.asarray(grid.convert("RGB"))  # (H, W, 3) uint8
            self.writer.add_image("samples", pixels, step, dataformats="HWC")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.log.close()

    def __enter__(self) -> Logbook:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
