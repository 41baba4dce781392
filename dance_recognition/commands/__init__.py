"""The sub-commands of ``dance-recognition``: one module each, imported by ``cli``.

Modules import heavy libraries (torch, mediapipe, rclpy) inside their handlers, so ``--help``
and unrelated commands stay fast.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_classes_argument(parser: argparse.ArgumentParser, extra: str = "") -> None:
    """``--classes FILE``: the same option, with the same meaning, in predict, evaluate, export."""
    parser.add_argument("--classes", type=Path, metavar="FILE",
                        help="class names of the checkpoint, one a line in the order of its outputs (reference "
                             "checkpoints carry none; e.g. ../shared/data/kinetics400_labels.txt)" + extra)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1 (counts and sizes; 0 or less is a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; give 1 or more")
    return value
