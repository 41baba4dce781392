"""`dance-recognition record`: record the live graph's topics into a rosbag2 bag (MCAP by default).

Runs recorder_node (see its docstring for the guarantees) in this process: messages stored as
received (serialized CDR) with their receive time, QoS matched to the publishers, the label
topic included, images on request (raw, or JPEG-compressed here). Ctrl-C or SIGTERM ends the
recording with a complete bag and prints a summary per topic.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("record", help="record the live graph's topics into a rosbag2 bag",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("bag", type=Path, help="bag folder to create (must not exist)")
    parser.add_argument("--storage", choices=("mcap", "sqlite3"), default="mcap", help="bag storage (default mcap)")
    parser.add_argument("--topics", nargs="+", default=[], metavar="TOPIC",
                        help="topics to record (default: skeletons actions tracked_people camera_info labels)")
    parser.add_argument("--images", choices=("raw", "jpeg"), help="also record image_raw, as is or JPEG-compressed "
                                                                  "into image_raw/compressed")
    parser.add_argument("--label", default="", help="the class performed during the whole take")
    parser.add_argument("--namespace", default="", help="ROS namespace of the graph to record")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: Ctrl-C)")
    add_split_arguments(parser)
    parser.set_defaults(handler=_record)


def add_split_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--max-bag-size`` / ``--max-bag-duration`` (as ``ros2 bag record -b/-d``), for ``record`` and ``live``."""
    parser.add_argument(f"--{prefix}max-bag-size", type=int, default=0, metavar="BYTES",
                        help="split the bag into files of at most this many bytes (0: no split; at least 86016)")
    parser.add_argument(f"--{prefix}max-bag-duration", type=float, default=0.0, metavar="SECONDS",
                        help="split the bag into files spanning at most this many seconds (0: no split)")


def check_split_arguments(max_bytes: int, max_duration_s: float) -> None:
    """The writer's limits, checked before any node starts: one clear line, no half-created bag."""
    from dance_recognition.bags.errors import BagError
    from dance_recognition.bags.writer import check_split
    from dance_recognition.errors import UserError

    try:
        check_split(max_bytes, max_duration_s)
    except BagError as error:
        raise UserError(f"{error} (--max-bag-size / --max-bag-duration)") from None


def _record(args: argparse.Namespace) -> int:
    import os

    from dance_recognition.errors import UserError
    from dance_recognition.ros.dds_profile import PROFILE_ENV, environment_with_profile
    from dance_recognition.ros.graph import LiveArguments, recorder_spec, ros_arguments

    if args.bag.exists():
        raise UserError(f"{args.bag} exists already; a bag is never overwritten: choose another name")
    if not args.bag.parent.is_dir():
        raise UserError(f"{args.bag.parent} does not exist: create it first or choose another bag path")
    if args.duration < 0:
        raise UserError("--duration must be positive (or 0 to record until Ctrl-C)")
    check_split_arguments(args.max_bag_size, args.max_bag_duration)
    os.environ.setdefault(PROFILE_ENV, environment_with_profile()[PROFILE_ENV])  # before rclpy starts
    spec = recorder_spec(str(args.bag), storage=args.storage, topics=args.topics, images=args.images or "",
                         label=args.label, duration_s=args.duration,
                         max_bag_size=args.max_bag_size, max_bag_duration_s=args.max_bag_duration)
    argv = ["recorder_node", *ros_arguments(spec, LiveArguments(namespace=args.namespace))]
    from dance_recognition.ros.nodes.recorder_node import main

    return main(argv)
