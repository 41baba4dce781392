"""Named input normalisations: pixel keypoint sequences -> the network's (C, T, V, M) input.

Input everywhere: (M, T, V, 3) float arrays of x, y in pixels and confidence, missing joints as
confidence 0 / NaN (see skeleton.pose). Output: (3, T, V, M) float32, channels (x, y, score),
missing joints as zeros, which is what the reference feeds its network.

- ``kinetics``: the reference Kinetics-skeleton preprocessing: x / width - 0.5, y / height - 0.5.
  Needed for the published Kinetics model; depends on where the person stands in the image.
- ``body_centred``: for our own models: origin at the hip centre of each frame (shoulder centre
  when hips are missing), unit = the person's median torso length over the sequence. Invariant
  to camera distance and position, so a move learnt at one spot is recognised at another.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from dance_recognition.skeleton.arrays import channels_first
from dance_recognition.skeleton.layouts import Layout, get_layout


def _validate(sequence: np.ndarray) -> np.ndarray:
    sequence = np.asarray(sequence, dtype=np.float32)
    if sequence.ndim != 4 or sequence.shape[-1] != 3:
        raise ValueError(f"expected (M, T, V, 3) keypoint sequences, got shape {sequence.shape}")
    return sequence


def _to_network(xy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    present = (confidence > 0) & np.isfinite(xy).all(axis=-1)
    out = np.concatenate([np.where(present[..., None], xy, 0.0), np.where(present, confidence, 0.0)[..., None]], -1)
    return np.ascontiguousarray(channels_first(out), dtype=np.float32)


def kinetics(sequence: np.ndarray, image_size: tuple[int, int], layout: Layout | str | None = None) -> np.ndarray:
    """The reference's normalisation; ``image_size`` = (width, height) in pixels."""
    sequence = _validate(sequence)
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {image_size}")
    xy = sequence[..., :2] / np.array([width, height], dtype=np.float32) - 0.5
    return _to_network(xy, sequence[..., 2])


def _centre(sequence: np.ndarray, layout: Layout, pair: tuple[str, str]) -> np.ndarray:
    """(M, T, 2) midpoint of a left/right joint pair, NaN where either is missing."""
    indices = [layout.index(name) for name in pair]
    joints = np.where((sequence[..., indices, 2] > 0)[..., None], sequence[..., indices, :2], np.nan)
    return joints.mean(axis=-2)


def torso_lengths(sequence: np.ndarray, layout: Layout | str) -> np.ndarray:
    """(M, T) shoulder-centre to hip-centre distance per frame, NaN where either is missing."""
    layout = get_layout(layout)
    sequence = _validate(sequence)
    hips = _centre(sequence, layout, ("left_hip", "right_hip"))
    shoulders = _centre(sequence, layout, ("left_shoulder", "right_shoulder"))
    return np.linalg.norm(shoulders - hips, axis=-1)


def body_centred(sequence: np.ndarray, image_size: tuple[int, int] | None = None,
                 layout: Layout | str | None = None, *, scale: np.ndarray | None = None) -> np.ndarray:
    """Hip-centred, torso-scaled coordinates (see module docstring); needs ``layout``. ``scale``
    (M,) replaces the sequence's median torso length: a streaming model normalises each frame as
    it arrives, with the median over the frames seen so far (live/person_streams.py)."""
    if layout is None:
        raise ValueError("body_centred normalisation needs the keypoint layout")
    layout = get_layout(layout)
    sequence = _validate(sequence)
    hips = _centre(sequence, layout, ("left_hip", "right_hip"))
    shoulders = _centre(sequence, layout, ("left_shoulder", "right_shoulder"))
    origin = np.where(np.isfinite(hips), hips, shoulders)  # (M, T, 2)
    if scale is None:
        torso = np.linalg.norm(shoulders - hips, axis=-1)  # (M, T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a person never seen whole: all-NaN slice
            scale = np.nanmedian(torso, axis=1)  # (M,)
    scale = np.asarray(scale, dtype=np.float32)
    scale = np.where(np.isfinite(scale) & (scale > 1e-6), scale, 1.0)
    xy = (sequence[..., :2] - origin[:, :, None, :]) / scale[:, None, None, None]
    return _to_network(xy, np.where(np.isfinite(origin).all(-1)[..., None], sequence[..., 2], 0.0))


NORMALIZATIONS: dict[str, Callable[..., np.ndarray]] = {"kinetics": kinetics, "body_centred": body_centred}


def normalize(name: str, sequence: np.ndarray, image_size: tuple[int, int] | None,
              layout: Layout | str | None) -> np.ndarray:
    try:
        function = NORMALIZATIONS[name]
    except KeyError:
        raise KeyError(f"unknown normalisation {name!r}; known: {', '.join(NORMALIZATIONS)}") from None
    if name == "kinetics" and image_size is None:
        raise ValueError("kinetics normalisation needs the image size (width, height)")
    return function(sequence, image_size, layout)
