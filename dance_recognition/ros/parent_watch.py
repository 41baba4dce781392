"""Nodes started by ``dance-recognition live`` never outlive it.

The launcher names itself in ``DANCE_LAUNCHER_PID``; a node started with it asks the kernel
(Linux ``prctl(PR_SET_PDEATHSIG)``) for SIGTERM when its parent dies, even by SIGKILL, and
exits at once when the launcher is already gone (it died while the node was still importing).
SIGTERM ends a node cleanly (rclpy's handler stops the spin loop). Without the variable
(``ros2 launch``, ``ros2 run``, a shell) nothing changes. Set in the child itself rather than in a
``preexec_fn``, which is unsafe in the launcher (it runs threads). No rclpy import here.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

LAUNCHER_PID_VARIABLE = "DANCE_LAUNCHER_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def launcher_environment(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` plus this process named as the launcher of the nodes it starts."""
    return {**environment, LAUNCHER_PID_VARIABLE: str(os.getpid())}


def exit_with_launcher() -> None:
    """Called first thing by a node: die with the launcher that started it (no-op otherwise)."""
    launcher = os.environ.get(LAUNCHER_PID_VARIABLE, "")
    if not launcher.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        print(f"warning: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
    if os.getppid() != int(launcher):
        raise SystemExit(0)  # the launcher died before we could ask: end now, as the signal would have
