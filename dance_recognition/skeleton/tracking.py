"""Stable person ids across frames, so a sequence can be buffered per person.

Each frame's detections are matched to the live tracks by an optimal assignment (Hungarian) on
the mean distance between the joints both have, divided by the person's size (so the gate means
the same near and far from the camera). A pair farther apart than ``max_distance`` is never
matched (gating); a detection left unmatched starts a new track; a track unseen for more than
``max_age`` frames is dropped, and its id is never reused.

Crossings: each track keeps its joints' velocity (smoothed over matches), and is compared where it
is predicted to be now, not where it was last seen; so two people walking past each other keep
their ids, also when one hid the other for a few frames. A detection is also compared with its
left/right-swapped joints (pose estimators sometimes swap a body's sides in profile views), the
smaller distance counting. A detection beyond the gate still continues a track seen in the previous
frame when one's joint box lies mostly (``min_overlap``) inside the other's: the estimator
re-interpreted a fast or unusual pose of the same person in the same place (on a weightlifting
clip the pose collapsed for two frames, 0.6 person sizes away). Such pairs come after every
pose match, so a person hidden behind another does not take over the other's detection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from dance_recognition.skeleton.layouts import LAYOUTS
from dance_recognition.skeleton.pose import PoseFrame

_UNMATCHABLE = 1e6


@dataclass
class Track:
    track_id: int
    keypoints: np.ndarray  # last seen (V, 3)
    age: int = 0  # frames since last seen
    velocity: np.ndarray | None = None  # (V, 2) pixels per frame, smoothed

    def predicted(self) -> np.ndarray:
        """Where the joints should be in the coming frame (last seen + velocity x frames since)."""
        if self.velocity is None:
            return self.keypoints
        moved = self.keypoints.copy()
        moved[:, :2] += self.velocity * (self.age + 1)
        return moved

    def observe(self, keypoints: np.ndarray, smoothing: float) -> None:
        step = (keypoints[:, :2] - self.keypoints[:, :2]) / (self.age + 1)
        step = np.where(np.isfinite(step), step, 0.0)
        self.velocity = step if self.velocity is None else smoothing * self.velocity + (1 - smoothing) * step
        self.keypoints, self.age = keypoints, 0


def person_size(keypoints: np.ndarray) -> float:
    """Diagonal of the bounding box of the present joints (pixels); at least 1."""
    present = keypoints[:, 2] > 0
    if present.sum() < 2:
        return 1.0
    points = keypoints[present, :2]
    return max(float(np.linalg.norm(points.max(axis=0) - points.min(axis=0))), 1.0)


def box_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the smaller of the boxes around the present joints of two (V, 3) arrays that lies
    inside the other (1 = one box holds the other)."""
    boxes = []
    for keypoints in (a, b):
        present = keypoints[:, 2] > 0
        if present.sum() < 2:
            return 0.0
        boxes.append((keypoints[present, :2].min(axis=0), keypoints[present, :2].max(axis=0)))
    (low_a, high_a), (low_b, high_b) = boxes
    overlap = np.clip(np.minimum(high_a, high_b) - np.maximum(low_a, low_b), 0, None).prod()
    smaller = min((high_a - low_a).prod(), (high_b - low_b).prod())
    return float(overlap / smaller) if smaller > 0 else 0.0


def pose_distance(a: np.ndarray, b: np.ndarray, min_shared_joints: int = 3) -> float:
    """Mean distance of the joints present in both, over the larger person's size; inf if too few."""
    shared = (a[:, 2] > 0) & (b[:, 2] > 0)
    if shared.sum() < min_shared_joints:
        return float("inf")
    distance = np.linalg.norm(a[shared, :2] - b[shared, :2], axis=1).mean()
    return float(distance / max(person_size(a), person_size(b)))


@lru_cache(maxsize=16)
def _mirror_permutation(layout: str) -> np.ndarray | None:
    """Left/right swap of a registered layout; None for an unknown one (no swapped comparison)."""
    if layout not in LAYOUTS:
        return None
    permutation = np.array(LAYOUTS[layout].mirror_permutation())
    return None if (permutation == np.arange(len(permutation))).all() else permutation


@dataclass
class PoseTracker:
    """``update(frame)`` sets ``track_id`` of each person in ``frame`` (in place) and returns it."""

    max_distance: float = 0.5  # gate, in person sizes
    max_age: int = 30  # frames a lost track is kept for re-identification (1 s at 30 fps: a crossing)
    min_shared_joints: int = 3
    velocity_smoothing: float = 0.5  # weight of the previous velocity when a new match arrives
    min_overlap: float = 0.7  # a pose that jumped beyond the gate still matches a track seen in the last frame
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 0

    def update(self, frame: PoseFrame) -> PoseFrame:
        people = frame.people
        mirror = _mirror_permutation(frame.layout)
        cost = np.full((len(self.tracks), len(people)), _UNMATCHABLE)
        for i, track in enumerate(self.tracks):
            predicted = track.predicted()
            for j, person in enumerate(people):
                distance = pose_distance(predicted, person.keypoints, self.min_shared_joints)
                if mirror is not None:
                    distance = min(distance, pose_distance(predicted, person.keypoints[mirror], self.min_shared_joints))
                if distance <= self.max_distance:
                    cost[i, j] = distance
                elif track.age == 0 and np.isfinite(distance):  # enough shared joints, but beyond the gate
                    overlap = box_overlap(track.keypoints, person.keypoints)
                    if overlap >= self.min_overlap:  # same place, pose re-estimated: after every pose match
                        cost[i, j] = self.max_distance + 1.0 - overlap
        matched_tracks, matched_people = set(), set()
        if cost.size:
            for i, j in zip(*linear_sum_assignment(cost), strict=True):
                if cost[i, j] < _UNMATCHABLE:
                    self.tracks[i].observe(people[j].keypoints, self.velocity_smoothing)
                    people[j].track_id = self.tracks[i].track_id
                    matched_tracks.add(i)
                    matched_people.add(j)
        for i, track in enumerate(self.tracks):
            if i not in matched_tracks:
                track.age += 1
        self.tracks = [t for t in self.tracks if t.age <= self.max_age]
        for j, person in enumerate(people):
            if j not in matched_people:
                person.track_id = self.next_id
                self.tracks.append(Track(self.next_id, person.keypoints))
                self.next_id += 1
        return frame

    def live_ids(self) -> set[int]:
        """Ids of the tracks still remembered (seen within ``max_age`` frames)."""
        return {track.track_id for track in self.tracks}
