"""Stable person ids across frames, so a sequence can be buffered per person.

Each frame's detections are matched to the live tracks by an optimal assignment (Hungarian) on
the mean distance between the joints both have, divided by the person's size (so the gate means
the same near and far from the camera). A pair farther apart than ``max_distance`` is never
matched (gating); a detection left unmatched starts a new track; a track unseen for more than
``max_age`` frames is dropped, and its id is never reused.

Note: MediaPipe's legacy pose API reports at most one person per frame; the tracker then only
keeps the id stable and starts a new id when a person reappears far from where one was lost.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from dance_recognition.skeleton.pose import PoseFrame

_UNMATCHABLE = 1e6


@dataclass
class Track:
    track_id: int
    keypoints: np.ndarray  # last seen (V, 3)
    age: int = 0  # frames since last seen
    hits: int = 1


def person_size(keypoints: np.ndarray) -> float:
    """Diagonal of the bounding box of the present joints (pixels); at least 1."""
    present = keypoints[:, 2] > 0
    if present.sum() < 2:
        return 1.0
    points = keypoints[present, :2]
    return max(float(np.linalg.norm(points.max(axis=0) - points.min(axis=0))), 1.0)


def pose_distance(a: np.ndarray, b: np.ndarray, min_shared_joints: int = 3) -> float:
    """Mean distance of the joints present in both, over the larger person's size; inf if too few."""
    shared = (a[:, 2] > 0) & (b[:, 2] > 0)
    if shared.sum() < min_shared_joints:
        return float("inf")
    distance = np.linalg.norm(a[shared, :2] - b[shared, :2], axis=1).mean()
    return float(distance / max(person_size(a), person_size(b)))


@dataclass
class PoseTracker:
    """``update(frame)`` sets ``track_id`` of each person in ``frame`` (in place) and returns it."""

    max_distance: float = 0.5  # gate, in person sizes
    max_age: int = 15  # frames a lost track is kept for re-identification
    min_shared_joints: int = 3
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 0

    def update(self, frame: PoseFrame) -> PoseFrame:
        people = frame.people
        cost = np.full((len(self.tracks), len(people)), _UNMATCHABLE)
        for i, track in enumerate(self.tracks):
            for j, person in enumerate(people):
                distance = pose_distance(track.keypoints, person.keypoints, self.min_shared_joints)
                if distance <= self.max_distance:
                    cost[i, j] = distance
        matched_tracks, matched_people = set(), set()
        if cost.size:
            for i, j in zip(*linear_sum_assignment(cost), strict=True):
                if cost[i, j] < _UNMATCHABLE:
                    track = self.tracks[i]
                    track.keypoints, track.age, track.hits = people[j].keypoints, 0, track.hits + 1
                    people[j].track_id = track.track_id
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

    def reset(self) -> None:
        self.tracks.clear()
