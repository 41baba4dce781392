"""Real footage for the pose tests: frames of the shared videos and of the demo video, skipping
with a reason when they are absent (they are never copied into the repository)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_video

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


def demo_video() -> Path:
    """The two-person demo video fetched by scripts/setup.sh; skips the test without it."""
    path = media_file("demo.mp4")
    if path is None:
        pytest.skip("the demo video is fetched by scripts/setup.sh; run it first")
    return path


def _to_height(image: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height), interpolation=cv2.INTER_AREA)


def three_people_frames(count: int, height: int = 480) -> list[np.ndarray]:
    """Three real people side by side, each large in the detector's view: the weightlifter's column
    of clean_and_jerk.mp4, the tai chi performer's of ta_chi.mp4, and the lifter again 150 frames
    later, mirrored (another pose, facing the other way). Composited: no real footage here holds
    three people MediaPipe can see (the pose2sim clip's third person is too small for its detector;
    tiling that clip's pair beside the lifter hides one of the pair from it, measured)."""
    lifter = read_rgb_frames(shared_video("clean_and_jerk.mp4"), count)
    performer = read_rgb_frames(shared_video("ta_chi.mp4"), count)
    later = read_rgb_frames(shared_video("clean_and_jerk.mp4"), count, start=150)
    return [np.ascontiguousarray(np.concatenate([_to_height(a[:, 110:240], height),
                                                 _to_height(b[:, 95:285], height),
                                                 _to_height(c[:, 110:240][:, ::-1], height)], axis=1))
            for a, b, c in zip(lifter, performer, later, strict=True)]


LIFTER_WIDTH = 61  # the weightlifter's joints span 61 px across in clean_and_jerk.mp4's first frames


def partner_frames(count: int, offset: float, height: int = 480) -> list[np.ndarray]:
    """Two real people standing close: the weightlifter of clean_and_jerk.mp4 and, in front of him,
    himself 150 frames later, mirrored, pasted ``offset`` of his body width to the right (1.0:
    shoulder to shoulder, touching; 0.5: half of him hidden behind the other)."""
    lifter = read_rgb_frames(shared_video("clean_and_jerk.mp4"), count)
    later = read_rgb_frames(shared_video("clean_and_jerk.mp4"), count, start=150)
    frames = []
    for a, b in zip(lifter, later, strict=True):
        canvas = a[:, 60:300].copy()  # his body spans columns 83-144 here
        # the partner's 80-column strip (his body at strip columns 11-72 once mirrored), in front
        left = 73 + round(offset * LIFTER_WIDTH)
        canvas[:, left:left + 80] = b[:, 135:215][:, ::-1][:, :max(0, min(80, canvas.shape[1] - left))]
        frames.append(np.ascontiguousarray(_to_height(canvas, height)))
    return frames
