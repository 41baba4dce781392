"""Fitting a sequence to the model's window: padding policies for short sequences, cropping
policies for long ones. Arrays are (T, ...) with time first.

Pad: ``zeros`` (the reference's zero padding at the end), ``repeat`` (loop the clip, which keeps
motion statistics for short moves), ``edge`` (hold the last frame).
Crop: ``newest`` (the last frames: what a live node wants), ``center``, ``uniform`` (evenly
spaced frames over the whole clip: keeps a slow move's full extent).
"""
from __future__ import annotations

import math

import numpy as np

PAD_POLICIES = ("zeros", "repeat", "edge")
CROP_POLICIES = ("newest", "center", "uniform")
# A window needs a person in at least this share of its frames for a label: padded out from a
# sliver (one frame of 48), a model trained on full windows answers with confidence from nothing.
# ``predict`` answers "unknown (too short)" below it; action_node refuses a ``min_frames`` below it.
# Only for a window the model was trained on: a published reference checkpoint carries none (its
# 300 frames are the reference feeder's padding length, and most Kinetics clips are shorter).
MIN_WINDOW_SHARE = 0.5


def min_window_frames(window: int, trained: bool = True) -> int:
    """The fewest frames with a person that a ``window``-frame window needs for a label; 1 when
    the window is not one the model was ``trained`` on."""
    return max(1, math.ceil(MIN_WINDOW_SHARE * window)) if trained else 1


def frames_with_a_person(sequence: np.ndarray) -> int:
    """Frames of (M, T, V, 3) keypoints in which any joint of anyone is detected."""
    return int((sequence[..., 2] > 0).any(axis=(0, 2)).sum())


def fit_window(sequence: np.ndarray, length: int, pad: str = "zeros", crop: str = "newest") -> np.ndarray:
    sequence = np.asarray(sequence)
    if length < 1:
        raise ValueError(f"window length must be positive, got {length}")
    if pad not in PAD_POLICIES:
        raise ValueError(f"unknown pad policy {pad!r}; choose one of {', '.join(PAD_POLICIES)}")
    if crop not in CROP_POLICIES:
        raise ValueError(f"unknown crop policy {crop!r}; choose one of {', '.join(CROP_POLICIES)}")
    frames = sequence.shape[0]
    if frames == length:
        return sequence.copy()
    if frames > length:
        if crop == "newest":
            return sequence[frames - length:].copy()
        if crop == "center":
            start = (frames - length) // 2
            return sequence[start:start + length].copy()
        return sequence[np.linspace(0, frames - 1, length).round().astype(int)]
    if frames == 0:
        return np.zeros((length, *sequence.shape[1:]), dtype=sequence.dtype)
    if pad == "zeros":
        return np.concatenate([sequence, np.zeros((length - frames, *sequence.shape[1:]), sequence.dtype)])
    if pad == "repeat":
        return np.resize(sequence, (length, *sequence.shape[1:]))
    return np.concatenate([sequence, np.repeat(sequence[-1:], length - frames, axis=0)])
