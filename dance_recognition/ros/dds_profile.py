"""Where the package's Fast DDS profile lives and how launchers apply it (no rclpy import).

The profile must be in the environment BEFORE rclpy creates its first participant, so the
launchers set it for the processes they start, never from inside a running node.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

PROFILE_FILE_NAME = "fastdds_large_images.xml"
PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"


def config_dirs() -> list[Path]:
    """Candidate config/ folders, best first: the installed package's, then the source tree's.

    Looked up through the ament index (a sourced ROS workspace), then in this interpreter's
    prefix (the standalone venv, where AMENT_PREFIX_PATH is usually unset).
    """
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("dance_recognition")))
    except (ImportError, LookupError, OSError):  # not installed, not indexed, or no AMENT_PREFIX_PATH
        pass
    candidates.append(Path(sys.prefix) / "share" / "dance_recognition")
    candidates.append(Path(__file__).resolve().parents[2])
    return [share / "config" for share in candidates]


def config_file(name: str) -> Path:
    """The package's config file ``name``, from the first of ``config_dirs()`` that has it."""
    searched = [folder / name for folder in config_dirs()]
    for path in searched:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{name} not found in {', '.join(map(str, searched))}; "
        "reinstall the package (scripts/setup.sh, or colcon build in a ROS workspace)"
    )


def default_profile_path() -> Path:
    return config_file(PROFILE_FILE_NAME)


def environment_with_profile(env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: os.environ) using the package profile unless one is already set.

    A user's own FASTDDS_DEFAULT_PROFILES_FILE always wins: robots often carry a tuned profile.
    """
    result = dict(os.environ if env is None else env)
    if not result.get(PROFILE_ENV):
        result[PROFILE_ENV] = str(default_profile_path())
    return result
