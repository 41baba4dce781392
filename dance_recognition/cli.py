"""`dance-recognition`: the package's command-line entry point.

Each sub-command lives in ``dance_recognition.commands.<name>`` with a ``register(subparsers)``
that adds its parser and handler; handlers return an exit code. Errors a user can fix
(``DanceRecognitionError``) end as one clear line and exit code 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from dance_recognition.errors import DanceRecognitionError, UserError

log = logging.getLogger("dance_recognition")

COMMANDS = ("doctor", "live", "extract", "preview", "import_dataset", "train", "evaluate", "predict", "export",
            "bag", "bag2dataset", "record", "label")

__all__ = ["COMMANDS", "UserError", "build_parser", "main"]  # UserError: the old import place still works


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dance-recognition", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"dance_recognition.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    if not sys.stderr.isatty():  # a log file: a progress line every 30 s, not hundreds per second
        os.environ.setdefault("TQDM_MININTERVAL", "30")
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return code
    except DanceRecognitionError as error:
        print(f"dance-recognition {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dance-recognition {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head` closed the output early: what was wanted was printed
        # Python flushes stdout again at exit; point it at /dev/null so that does not fail too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
