"""`dance-recognition label`: label a recording live from the keyboard (or one event from a script).

Each key is mapped to a class of the classes file (shown at start); pressing it publishes a
LabelEvent START on the label topic, space publishes STOP, q stops and quits. The current label is
shown on one status line. Run it beside `dance-recognition record` (or `live --record`): the
events are stored in the bag and become the samples' labels in `bag2dataset`. `--start LABEL` or
`--stop` publishes one event and exits once a recorder has received it.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("label", help="publish label events from the keyboard (beside record)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=Path, help="class names, one a line: keys 1-9, a-z in this order")
    parser.add_argument("--track", type=int, default=-1, help="performer track id (default -1: everyone)")
    parser.add_argument("--topic", default="labels", help="label topic (default labels)")
    parser.add_argument("--namespace", default="", help="ROS namespace of the recorded graph")
    parser.add_argument("--start", metavar="LABEL", help="publish one START event for LABEL and exit")
    parser.add_argument("--stop", nargs="?", const="", metavar="LABEL", help="publish one STOP event and exit")
    parser.add_argument("--wait", type=float, default=10.0, help="seconds to wait for a recorder in --start/--stop")
    parser.set_defaults(handler=_label)


def _node(args: argparse.Namespace):
    import os

    import rclpy

    from dance_recognition.ros.dds_profile import PROFILE_ENV, environment_with_profile

    os.environ.setdefault(PROFILE_ENV, environment_with_profile()[PROFILE_ENV])
    rclpy.init(args=[])
    return rclpy.create_node("labeller", namespace=f"/{args.namespace.strip('/')}" if args.namespace else None)


def _one_event(args: argparse.Namespace) -> int:
    import rclpy

    from dance_recognition.errors import UserError
    from dance_recognition.ros.label_publisher import LabelPublisher

    if args.start is not None and args.stop is not None:
        raise UserError("give --start LABEL or --stop, not both")
    if args.start is not None and not args.start.strip():
        raise UserError("--start needs a class name (an empty label labels nothing)")
    node = _node(args)
    try:
        labels = LabelPublisher(node, args.topic, args.track)
        if not labels.wait_for_subscribers(args.wait):
            raise UserError(f"no recorder subscribes to {labels.publisher.topic_name} after {args.wait:g} s: start "
                            "`dance-recognition record` (or live --record) first")
        msg = labels.start(args.start) if args.start is not None else labels.stop(args.stop)
        if not labels.wait_delivered(args.wait):
            raise UserError(f"the recorder did not acknowledge the event within {args.wait:g} s")
        kind = "START" if args.start is not None else "STOP"
        print(f"published {kind} {msg.label or '(current)'} (track {msg.track_id}) on {labels.publisher.topic_name}")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _label(args: argparse.Namespace) -> int:
    from dance_recognition.bags.keymap import KeyMap
    from dance_recognition.commands.extract import read_class_names
    from dance_recognition.errors import UserError

    if args.start is not None or args.stop is not None:
        return _one_event(args)
    if args.classes is None:
        raise UserError("the keyboard labeller needs --classes FILE (or --start LABEL / --stop for one event)")
    if not sys.stdin.isatty():
        raise UserError("the keyboard labeller needs a terminal; from a script use --start LABEL / --stop, or "
                        "dance_recognition.ros.label_publisher.LabelPublisher")
    keys = KeyMap(read_class_names(args.classes))
    return _keyboard_loop(args, keys)


def _keyboard_loop(args: argparse.Namespace, keys) -> int:
    import os
    import select
    import termios
    import tty

    import rclpy

    from dance_recognition.ros.label_publisher import LabelPublisher

    node = _node(args)
    labels = LabelPublisher(node, args.topic, args.track)
    print(f"labelling on {labels.publisher.topic_name} (track {args.track}): {keys.legend()}", flush=True)
    saved = termios.tcgetattr(sys.stdin)
    try:
        tty.setcbreak(sys.stdin.fileno())
        _show(keys, labels)
        recorders = labels.publisher.get_subscription_count()
        while not keys.quitting and rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0)
            ready, _, _ = select.select([sys.stdin], [], [], 0.1)
            if labels.publisher.get_subscription_count() != recorders:  # a recorder came or went: say so
                recorders = labels.publisher.get_subscription_count()
                _show(keys, labels)
            if not ready:
                continue
            # os.read, not sys.stdin.read(1): a buffered reader would hide keys typed together from select
            for key in os.read(sys.stdin.fileno(), 64).decode(errors="ignore"):
                for press in keys.press(key):
                    labels.publish(press.event, press.label)
                if keys.quitting:
                    break
            _show(keys, labels)
        labels.wait_delivered(2.0)
    except KeyboardInterrupt:
        for press in keys.press("q"):
            labels.publish(press.event, press.label)
        labels.wait_delivered(2.0)
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)
        print(flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _show(keys, labels) -> None:
    recorders = labels.publisher.get_subscription_count()
    note = "" if recorders else "  (no recorder subscribed yet)"
    sys.stdout.write(f"\r\x1b[K{keys.status()}{note}")
    sys.stdout.flush()
