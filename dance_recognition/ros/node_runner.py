"""One ``main`` for every node: init, spin, clean exit codes.

0: normal end (Ctrl-C, or a source that finished); 2: the node could not be
CONSTRUCTED (a parameter out of range, a model file missing, a bad backend...), said in one
line. Once the node runs, an exception in a callback is logged with its traceback and the node
keeps spinning: one bad message must never end a node (and with it a live graph).
"""
from __future__ import annotations

import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

import rclpy
from rclpy.exceptions import InvalidParameterValueException, ParameterException
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.ros.parent_watch import exit_with_launcher

# What a constructor raises for a problem the user can fix; anything else is a bug (traceback).
START_ERRORS = (InvalidParameterValueException, ParameterException, DanceRecognitionError, ValueError, KeyError,
                OSError)
CALLBACK_ERROR_LOG_PERIOD_S = 5.0


def _error_text(error: BaseException) -> str:
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def _construct(factory: Callable[[], Node]) -> Node | None:
    """The node, or None after one "cannot start" line naming the executable and the problem."""
    try:
        return factory()
    except START_ERRORS as error:
        name = Path(sys.argv[0]).stem or "node"
        print(f"[{name}] cannot start: {_error_text(error)}", file=sys.stderr, flush=True)
        return None


class _CallbackErrors:
    """Logs a callback's exception (traceback at most every few seconds) and counts them all."""

    def __init__(self, node: Node) -> None:
        self.node, self.count, self._last_logged = node, 0, float("-inf")

    def record(self, error: Exception) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._last_logged >= CALLBACK_ERROR_LOG_PERIOD_S:
            self._last_logged = now
            self.node.get_logger().error(
                f"a callback failed ({self.count} so far); the node keeps running: "
                f"{type(error).__name__}: {error}\n{traceback.format_exc()}")


def _spin(node: Node, executor: Executor) -> None:
    errors = _CallbackErrors(node)
    while rclpy.ok() and not getattr(node, "finished", False):
        try:
            executor.spin_once(timeout_sec=0.1)
        except (KeyboardInterrupt, ExternalShutdownException):
            raise
        except Exception as error:  # a callback must never end the node
            if not node.context.ok():
                break  # shutdown began (a signal) while a callback published: expected, nothing to report
            errors.record(error)


def run_node(factory: Callable[[], Node], argv: Sequence[str] | None = None, threads: int = 1) -> int:
    """``threads`` > 1 uses a MultiThreadedExecutor; measured: its per-message overhead cut the pose
    node from 53 to 14 frames/s on 2 cores, so nodes do slow work on their own thread instead."""
    exit_with_launcher()
    rclpy.init(args=list(sys.argv if argv is None else argv))
    node = None
    try:
        node = _construct(factory)
        if node is None:
            return 2
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        _spin(node, executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if node is None and not rclpy.ok():
            pass  # a signal shut the context down while the node was being built: a stop, not a fault
        else:
            raise
    finally:
        _ignore_stop_signals()
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
        _ignore_stop_signals()  # rclpy's shutdown put the previous handlers back
    return 0


def _ignore_stop_signals() -> None:
    """Clean-up has begun: further SIGINT/SIGTERM must not interrupt it. A launch without a
    terminal (systemd, scripts, docker without -t) signals the whole process group, so a node gets
    SIGINT from the system AND from ros2 launch; the second one used to raise KeyboardInterrupt
    inside close()/destroy_node() (a traceback and exit code -2). A node that hangs is still
    killed by its launcher's escalation (SIGKILL)."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
