"""Stopping cleanly: SIGINT and SIGTERM become a request that long loops check between steps.

A loop (training, DAMSM pretraining) runs inside `stop_requests()`, finishes the step it is in when
a signal arrives, saves, and raises `Interrupted`; the command line turns that into exit status
128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).

Outside such a loop (loading data, generating, evaluating), `signals_unwind()` makes SIGTERM and
SIGHUP raise `Stopped`, as Ctrl-C raises KeyboardInterrupt: the stack unwinds, so temporaries are
removed, locks released and data-loading workers shut down, where the default action would end
the process on the spot and leave them behind.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(Exception):
    """A loop stopped by SIGINT or SIGTERM after saving its work."""

    def __init__(self, signum: int, step: int, saved: str = "checkpoint saved") -> None:
        super().__init__(f"interrupted at step {step}; {saved}")
        self.signum, self.step = signum, step


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP outside a loop that saves (a KeyboardInterrupt, so it unwinds alike)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def signals_unwind() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Stopped` inside the block (main thread only)."""

    def handler(signum: int, _frame: object) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def stop_requests() -> Iterator[list[int]]:
    """Turn SIGINT/SIGTERM into a list of signal numbers the loop checks between steps, so no step
    is half done. A second Ctrl-C stops at once, as users expect when a save hangs."""
    requested: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requested.append(signum)

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals cannot be caught here
        pass
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
