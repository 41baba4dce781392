"""The people seen in one image, as plain numpy arrays.

This is the one in-memory convention every backend produces and every consumer reads:
positions in pixels of the source image, a confidence per joint, and a MISSING joint marked by
confidence 0 with NaN positions. (The project this replaces mixed normalised MediaPipe
coordinates with integer OpenPose pixels and -1 for missing joints; a single convention avoids
silently training on mixed scales.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRACK_ID_UNKNOWN = -1


def _as_float32(name: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value, dtype=np.float32)
    if array.shape != shape:
        raise ValueError(f"{name} has shape {array.shape}, expected {shape}")
    return array


@dataclass
class PersonPose:
    """One person's keypoints in one frame.

    keypoints: (V, 3) float32 = x pixels, y pixels, confidence in 0..1.
    depth: optional (V,) relative depth from the backend (same scale as x).
    world: optional (V, 3) metric positions in metres in the backend's body-centred frame.
    box: optional (4,) detector box as centre x, centre y, width, height in pixels; without it
        ``bounding_box`` falls back to the detected joints' extent.
    """

    keypoints: np.ndarray
    track_id: int = TRACK_ID_UNKNOWN
    score: float = 1.0
    depth: np.ndarray | None = None
    world: np.ndarray | None = None
    box: np.ndarray | None = None

    def __post_init__(self) -> None:
        keypoints = np.asarray(self.keypoints, dtype=np.float32)
        if keypoints.ndim != 2 or keypoints.shape[1] != 3:
            raise ValueError(f"keypoints must be (V, 3) = x, y, confidence; got shape {keypoints.shape}")
        self.keypoints = mark_missing(keypoints)
        num_joints = keypoints.shape[0]
        if self.depth is not None:
            self.depth = _as_float32("depth", self.depth, (num_joints,))
        if self.world is not None:
            self.world = _as_float32("world", self.world, (num_joints, 3))
        if self.box is not None:
            self.box = _as_float32("box", self.box, (4,))
            if not np.isfinite(self.box).all():
                self.box = None  # an unknown box is derived from the joints instead

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def present(self) -> np.ndarray:
        """(V,) bool: joints that were detected."""
        return self.keypoints[:, 2] > 0

    def bounding_box(self) -> np.ndarray:
        """(4,) centre x, centre y, width, height in pixels; NaN when no joint is detected.

        The detector's box when the backend gave one (it covers the whole body, also joints
        it could not place), else the extent of the detected joints.
        """
        if self.box is not None:
            return self.box
        return joints_box(self.keypoints)


def joints_bounds(keypoints: np.ndarray, min_joints: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
    """(low, high) corners, in pixels, of the box around the detected joints of a (V, 3) array;
    None with fewer than ``min_joints`` detected."""
    present = keypoints[:, 2] > 0
    if present.sum() < max(min_joints, 1):
        return None
    return keypoints[present, :2].min(axis=0), keypoints[present, :2].max(axis=0)


def joints_box(keypoints: np.ndarray) -> np.ndarray:
    """(4,) centre x, centre y, width, height of the detected joints of a (V, 3) array."""
    bounds = joints_bounds(keypoints)
    if bounds is None:
        return np.full(4, np.nan, dtype=np.float32)
    low, high = bounds
    return np.array([*(low + high) / 2, *(high - low)], dtype=np.float32)


def mark_missing(keypoints: np.ndarray) -> np.ndarray:
    """Apply the missing-joint convention to (..., 3) x, y, confidence arrays.

    A joint whose confidence is not positive, or whose position is not finite, becomes
    (NaN, NaN, 0): one unambiguous encoding, whatever the backend reported.
    """
    keypoints = np.array(keypoints, dtype=np.float32, copy=True)
    confidence = keypoints[..., 2]
    missing = ~(confidence > 0) | ~np.isfinite(keypoints[..., :2]).all(axis=-1)
    keypoints[missing] = (np.nan, np.nan, 0.0)
    keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
    return keypoints


@dataclass
class PoseFrame:
    """Every person seen in one image, in one named keypoint layout."""

    layout: str
    joint_names: tuple[str, ...]
    image_width: int
    image_height: int
    people: list[PersonPose] = field(default_factory=list)
    stamp_ns: int = 0
    frame_id: str = ""
    backend: str = ""

    def __post_init__(self) -> None:
        self.joint_names = tuple(self.joint_names)
        for index, person in enumerate(self.people):
            if person.num_joints != len(self.joint_names):
                raise ValueError(
                    f"person {index} has {person.num_joints} joints but layout {self.layout!r} "
                    f"names {len(self.joint_names)}"
                )
