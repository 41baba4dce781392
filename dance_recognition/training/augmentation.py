"""Training-time augmentations on network inputs (C, T, V, M), as in the reference feeder, plus
a left-right mirror that swaps joints by name for any layout.

All of them leave missing joints (confidence 0) at zero, so the network never sees a made-up
position, and take an explicit ``numpy.random.Generator`` so a seed reproduces a run.
"""
from __future__ import annotations

import numpy as np

from dance_recognition.skeleton.layouts import get_layout

# the reference's random_move candidates
ANGLES_DEG = (-10.0, -5.0, 0.0, 5.0, 10.0)
SCALES = (0.9, 1.0, 1.1)
SHIFTS = (-0.2, -0.1, 0.0, 0.1, 0.2)


def valid_frames(data: np.ndarray) -> tuple[int, int]:
    """[first, end) of the frames in which anyone is seen."""
    seen = np.nonzero((data[2] > 0).any(axis=(1, 2)))[0] if data.shape[0] > 2 else np.nonzero(data.any((0, 2, 3)))[0]
    return (int(seen[0]), int(seen[-1]) + 1) if len(seen) else (0, 0)


def random_choose(data: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``window``-frame crop of the seen frames (zero-padded at the end when shorter)."""
    first, end = valid_frames(data)
    length = end - first
    out = np.zeros((*data.shape[:1], window, *data.shape[2:]), np.float32)
    if length <= window:
        out[:, :length] = data[:, first:end]
        return out
    start = first + int(rng.integers(0, length - window + 1))
    return np.ascontiguousarray(data[:, start:start + window], dtype=np.float32)


def random_shift(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The seen frames moved to a random offset within the window."""
    first, end = valid_frames(data)
    length, frames = end - first, data.shape[1]
    out = np.zeros_like(data)
    if length == 0:
        return out
    offset = int(rng.integers(0, frames - length + 1))
    out[:, offset:offset + length] = data[:, first:end]
    return out


def random_move(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotation, scale and translation that drift linearly between random key frames."""
    frames = data.shape[1]
    keys = np.unique(np.r_[0, rng.integers(0, frames, size=2), frames - 1]) if frames > 1 else np.array([0])

    def drift(candidates: tuple[float, ...]) -> np.ndarray:
        return np.interp(np.arange(frames), keys, rng.choice(candidates, size=len(keys)))

    angle, scale = np.deg2rad(drift(ANGLES_DEG)), drift(SCALES)
    shift_x, shift_y = drift(SHIFTS), drift(SHIFTS)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    x, y = data[0], data[1]
    out = data.copy()
    out[0] = cos[:, None, None] * x - sin[:, None, None] * y + shift_x[:, None, None]
    out[1] = sin[:, None, None] * x + cos[:, None, None] * y + shift_y[:, None, None]
    missing = data[2] <= 0
    out[0][missing] = 0
    out[1][missing] = 0
    return out


def mirror(data: np.ndarray, layout: str) -> np.ndarray:
    """Left-right mirror: x -> -x, and every left_* joint swapped with its right_* twin."""
    out = data[:, :, list(get_layout(layout).mirror_permutation()), :].copy()
    out[0] = -out[0]
    return out + 0.0  # no negative zeros


def augment(data: np.ndarray, window: int, layout: str, rng: np.random.Generator, choose: bool = True,
            shift: bool = False, move: bool = True, mirror_probability: float = 0.5) -> np.ndarray:
    data = random_choose(data, window, rng) if choose else data[:, :window]
    if shift:
        data = random_shift(data, rng)
    if move:
        data = random_move(data, rng)
    if mirror_probability > 0 and rng.random() < mirror_probability:
        data = mirror(data, layout)
    return np.ascontiguousarray(data, dtype=np.float32)
