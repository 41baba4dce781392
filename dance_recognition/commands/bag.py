"""`dance-recognition bag info`: inspect a bag (like `ros2 bag info`, plus its label segments) without
`ros2 bag`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bag", help="inspect rosbag2 bags (info)",
                                   description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="bag_command", required=True)
    info = actions.add_parser("info", help="topics, types, counts, rates, duration, storage and label segments")
    info.add_argument("bags", type=Path, nargs="+", help="bag folders (metadata.yaml + files) or .mcap/.db3 files")
    info.set_defaults(handler=_info)


def _info(args: argparse.Namespace) -> int:
    from dance_recognition.bags.errors import BagError
    from dance_recognition.bags.info import info_lines
    from dance_recognition.bags.reader import open_bag

    failed = 0
    for index, path in enumerate(args.bags):
        if index:
            print()
        try:
            with open_bag(path) as bag:
                print("\n".join(info_lines(bag)))
        except BagError as error:
            failed += 1
            print(f"dance-recognition bag info: error: {error}", file=sys.stderr)
    return 1 if failed else 0
