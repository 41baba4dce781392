"""Real footage for the pose tests: frames of the shared videos and of the demo video, skipping
with a reason when they are absent (they are never copied into the repository)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_data_dir

from dance_recognition.ros.graph import media_file


def read_rgb_frames(path: Path, count: int, start: int = 0) -> list[np.ndarray]:
    """Up to ``count`` RGB frames of a video from frame ``start`` on."""
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while len(frames) < count:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


def shared_video(name: str) -> Path:
    """A video of ../shared/data/videos (or $DANCE_SHARED_DATA/videos); skips the test without it."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data (or $DANCE_SHARED_DATA) is absent: no real footage to test on")
    return data / "videos" / name


def demo_video() -> Path:
    """The two-person demo video fetched by scripts/setup.sh; skips the test without it."""
    path = media_file("demo.mp4")
    if path is None:
        pytest.skip("the demo video is fetched by scripts/setup.sh; run it first")
    return path
