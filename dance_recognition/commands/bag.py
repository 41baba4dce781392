"""`dance-recognition bag info|play`: inspect a bag (like `ros2 bag info`, plus its label segments) and
replay it, without `ros2 bag`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bag", help="inspect (info) or replay (play) rosbag2 bags",
                                   description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="bag_command", required=True)
    info = actions.add_parser("info", help="topics, types, counts, rates, duration, storage and label segments")
    info.add_argument("bags", type=Path, nargs="+", help="bag folders (metadata.yaml + files) or .mcap/.db3 files")
    info.set_defaults(handler=_info)
    play = actions.add_parser("play", help="publish a bag's messages with their original timing (no ros2 bag needed)")
    play.add_argument("bag", type=Path, help="bag folder or .mcap/.db3 file")
    play.add_argument("--rate", type=float, default=1.0, help="speed factor (default 1.0: real time)")
    play.add_argument("--loop", action="store_true", help="play again from the start at the end")
    play.add_argument("--start-offset", type=float, default=0.0, help="skip the bag's first seconds")
    play.add_argument("--topics", nargs="+", default=[], metavar="TOPIC", help="play only these topics")
    play.add_argument("--remap", nargs="+", default=[], metavar="FROM:=TO", help="publish a topic under another name")
    play.add_argument("--clock", type=float, nargs="?", const=40.0, default=0.0, metavar="HZ",
                      help="publish /clock with the bag time (default 40 Hz) for nodes with use_sim_time:=true")
    play.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="S",
                      help="wait up to S seconds until every played topic has a subscriber before starting")
    play.set_defaults(handler=_play)


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


def _play(args: argparse.Namespace) -> int:
    import math
    import os

    import rclpy
    from rclpy.executors import ExternalShutdownException

    from dance_recognition.bags.playback import parse_remaps, select_topics
    from dance_recognition.bags.reader import open_bag
    from dance_recognition.errors import UserError
    from dance_recognition.ros.dds_profile import PROFILE_ENV, environment_with_profile
    from dance_recognition.ros.player import BagPlayer, PlayResult

    numbers = (args.rate, args.start_offset, args.clock)
    if not all(math.isfinite(value) for value in numbers) or args.rate <= 0 or args.start_offset < 0 or args.clock < 0:
        raise UserError("--rate must be a positive number, --start-offset and --clock finite and not negative")
    remaps = parse_remaps(args.remap)
    with open_bag(args.bag) as bag:
        topics = select_topics(bag, args.topics)
        for note in bag.notes:
            print(f"note: {note}")
        os.environ.setdefault(PROFILE_ENV, environment_with_profile()[PROFILE_ENV])
        rclpy.init(args=[])
        node = rclpy.create_node("bag_player")
        result = PlayResult()
        try:
            player = BagPlayer(node, bag, topics, remaps, args.rate, args.start_offset, args.clock)
            if args.wait_for_subscribers and not player.wait_for_subscribers(args.wait_for_subscribers):
                print(f"bag play: not every topic has a subscriber after {args.wait_for_subscribers:g} s; playing")
            print(f"playing {bag.path}: {', '.join(remaps.get(t, t) for t in topics)} at {args.rate:g}x"
                  + (f", /clock at {args.clock:g} Hz" if args.clock else ""), flush=True)
            while player.play_once(result) and args.loop:
                pass
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
    total = sum(result.published.values())
    print(f"published {total} messages in {result.passes} pass(es): "
          + ", ".join(f"{topic} {count}" for topic, count in sorted(result.published.items())))
    return 0
