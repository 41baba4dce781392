"""One ``main`` for every node: init, spin, clean exit codes.

0: normal end (Ctrl-C, or a source that finished); 2: a parameter out of range or a start-up
problem the log line names (model file missing, bad backend...).
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import rclpy
from rclpy.exceptions import InvalidParameterValueException, ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from dance_recognition.errors import DanceRecognitionError


class NodeFinished(Exception):  # noqa: N818 (a normal end, not an error)
    """Raised inside a node to end the process normally (e.g. a video played once)."""


def run_node(factory: Callable[[], Node], argv: Sequence[str] | None = None, threads: int = 1) -> int:
    """``threads`` > 1 uses a MultiThreadedExecutor; measured: its per-message overhead cut the pose
    node from 53 to 14 frames/s on 2 cores, so nodes do slow work on their own thread instead."""
    rclpy.init(args=list(sys.argv if argv is None else argv))
    node = None
    code = 0
    try:
        node = factory()
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        while rclpy.ok() and not getattr(node, "finished", False):
            executor.spin_once(timeout_sec=0.1)
    except (InvalidParameterValueException, ParameterException, DanceRecognitionError, ValueError,
            FileNotFoundError) as error:
        name = node.get_name() if node is not None else "node"
        print(f"[{name}] cannot start: {error}", file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException, NodeFinished):
        pass
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code
