"""The `t2igan` command: argparse subcommands, each a thin call into the library.

    training.py    train, demo, models
    using.py       generate, interpolate, serve, export, evaluate
    tools.py       data synth / check / prepare / pack, text pretrain
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from contextlib import nullcontext

from t2igan.cli import tools, training, using
from t2igan.errors import UserError
from t2igan.interrupts import Interrupted, signals_unwind


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2igan",
                                     description="Text-to-image GANs: train, generate, evaluate.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error "
                        "(also T2IGAN_DEBUG=1), not only its one line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for commands in (training, using, tools):
        commands.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; every failure ends as one line on stderr and an exit status: 2 for bad
    input, a file system or a device that refuses, 128 + N for signal N, 1 for a bug (with the
    traceback under --debug or T2IGAN_DEBUG=1)."""
    for stream in (sys.stdout, sys.stderr):  # a path or prompt the terminal cannot show is
        if hasattr(stream, "reconfigure"):  # escaped, not an UnicodeEncodeError after the work
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        with signals_unwind() if threading.current_thread() is threading.main_thread() \
                else nullcontext():
            args.func(args)
    except Interrupted as stop:
        _close_progress_bars()
        print(f"t2igan: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt as stop:  # Ctrl-C, or Stopped: SIGTERM/SIGHUP outside a loop
        _close_progress_bars()
        signum = getattr(stop, "signum", signal.SIGINT)
        print(f"t2igan: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return 128 + signum
    except Exception as error:
        _close_progress_bars()
        if args.debug or os.environ.get("T2IGAN_DEBUG") == "1":
            traceback.print_exc()
        line, status = _one_line(error)
        print(f"t2igan: {_printable(line)}", file=sys.stderr)
        return status
    return 0


def _one_line(error: Exception) -> tuple[str, int]:
    """What the user reads, and the exit status."""
    if isinstance(error, UserError):
        return f"error: {error}", 2
    if isinstance(error, OSError):  # the file system or a socket refused: the user can act on it
        where = f"{error.filename}: " if error.filename else ""
        return f"error: {where}{error.strerror or error}", 2
    if isinstance(error, MemoryError) or any(
            sign in str(error) for sign in ("out of memory", "can't allocate memory")):
        return "error: out of memory: lower --batch-size (or --num, the image size)", 2
    first = str(error).splitlines()[0][:200] if str(error) else ""
    return (f"internal error: {type(error).__name__}: {first} (a bug: rerun with --debug for "
            "the traceback and report it)"), 1


def _printable(text: str) -> str:
    """One line whatever it quotes: a newline or an escape code in a path the user gave is shown
    escaped (\\n, \\x1b), not obeyed by the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _close_progress_bars() -> None:
    """End any progress bar the failure left open, so the last line starts a line of its own."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()
