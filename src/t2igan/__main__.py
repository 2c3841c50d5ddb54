"""`t2igan` and `python -m t2igan`: the command line (t2igan.cli), loaded inside a guard so that a
Ctrl-C while the libraries load is the one interrupted line too, not an import's traceback."""

import signal
import sys


def entry() -> int:
    try:
        from t2igan.cli import main
    except KeyboardInterrupt:
        print("t2igan: interrupted (SIGINT)", file=sys.stderr)
        return 128 + signal.SIGINT
    return main()


if __name__ == "__main__":
    sys.exit(entry())
