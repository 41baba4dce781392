"""Test-session set-up: every run gets a ROS domain of its own, claimed with a lock file.

Runs on the same machine (two developers, CI beside a session) would otherwise see each
other's topics. The claim is made before any test creates an rclpy context, and child
processes inherit it through the environment.
"""
from __future__ import annotations

import fcntl
import os
import random
import sys
import tempfile
from pathlib import Path

import pytest

from dance_recognition.ros.dds_profile import environment_with_profile

REPO = Path(__file__).resolve().parents[1]
_domain_lock = None


def _claim_ros_domain() -> int:
    global _domain_lock
    candidates = list(range(1, 102))
    random.shuffle(candidates)
    for domain in candidates:
        lock = open(Path(tempfile.gettempdir()) / f"dance_recognition_ros_domain_{domain}.lock", "w")  # noqa: SIM115 (held for the session)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _domain_lock = lock  # held (and the domain ours) until this process exits
        return domain
    raise RuntimeError("all ROS domains 1..101 are claimed by other test runs on this machine")


def pytest_configure(config: pytest.Config) -> None:
    domain = _claim_ros_domain()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.update(environment_with_profile())
    config.stash[DOMAIN_KEY] = domain


DOMAIN_KEY = pytest.StashKey[int]()


def pytest_report_header(config: pytest.Config) -> str:
    return f"ROS_DOMAIN_ID={config.stash[DOMAIN_KEY]} (claimed for this run)"


def shared_data_dir() -> Path | None:
    """../shared/data beside the checkout (or $DANCE_SHARED_DATA), None when absent."""
    path = Path(os.environ.get("DANCE_SHARED_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


def shared_video(name: str) -> Path:
    """A video of ../shared/data/videos (or $DANCE_SHARED_DATA/videos); skips the test without it."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data (or $DANCE_SHARED_DATA) is absent: no real footage to test on")
    return data / "videos" / name


def installed_cli() -> list[str]:
    """The installed ``dance-recognition`` wrapper (what a user runs), as a command prefix.

    Installed by scripts/setup.sh beside this interpreter; tests of entry points use it rather
    than ``python -m`` because the wrapper script is a different ``__main__`` (spawned workers
    re-import it)."""
    wrapper = Path(sys.executable).parent / "dance-recognition"
    if not wrapper.is_file():
        pytest.fail(f"{wrapper} is missing: run scripts/setup.sh (it installs the entry points)")
    return [str(wrapper)]


@pytest.fixture()
def processes(tmp_path: Path):
    """Node processes for one test, their logs in its tmp_path; all stopped at teardown."""
    from node_processes import Processes

    started = Processes(tmp_path)
    yield started
    started.stop()


@pytest.fixture()
def probe():
    """An rclpy node in the test process, in this run's ROS domain, to publish and listen."""
    import rclpy

    rclpy.init()
    node = rclpy.create_node("test_probe")
    yield node
    node.destroy_node()
    rclpy.try_shutdown()
