"""The `t2igan` command: argparse subcommands, each a thin call into the library.

    training.py    train, demo, models
    using.py       generate, interpolate, serve, export, evaluate
    tools.py       data synth / check / prepare / pack, text pretrain
"""

from __future__ import annotations

import argparse
import signal
import sys

from t2igan.cli import tools, training, using
from t2igan.errors import UserError
from t2igan.interrupts import Interrupted


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t2igan",
                                     description="Text-to-image GANs: train, generate, evaluate.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for commands in (training, using, tools):
        commands.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as error:
        print(f"t2igan: error: {error}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"t2igan: {stop}", file=sys.stderr)
        return 128 + stop.signum
    except KeyboardInterrupt:
        print("t2igan: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    return 0
