"""Stable person ids across frames, so a sequence can be buffered per person.

Each frame's detections are matched to the live tracks by an optimal assignment (Hungarian) on
the mean distance between the joints both have, divided by the person's size (so the gate means
the same near and far from the camera). A pair farther apart than ``max_distance`` is not matched
by pose (gating); a track unseen for more than ``max_age`` frames is dropped, and its id is never
reused.

Crossings: each track keeps its body's velocity (the median step of its joints, smoothed over
matches: one translation, so limbs swinging through a flip or a kick do not fling the prediction
away), and is compared where it is predicted to be now, not where it was last seen; so two people
walking past each other keep their ids, also when one hid the other for a few frames. A detection
is also compared with its left/right-swapped joints (pose estimators sometimes swap a body's sides
in profile views), the smaller distance counting. A detection beyond the gate still continues a
track seen in the previous frame when one's joint box lies mostly (``min_overlap``) inside the
other's: the estimator re-interpreted a fast or unusual pose of the same person in the same place
(on a weightlifting clip the pose collapsed for two frames, 0.6 person sizes away). Such pairs come
after every pose match, so a person hidden behind another does not take over the other's detection.

Re-identification: a person the estimator loses for a while (the demo video's man, backlit, is not
found for 17 frames of a back flip and comes back upright 1.7 person sizes away, where no pose
comparison can recognise him) is matched by where his box is: a detection left over after the pose
matches continues a lost track whose box centre is within ``max_distance + max_speed x frames
lost`` person sizes of it (a sprint is about 0.1 sizes per frame at 30 frames/s). Limitation: a
newcomer appearing within that reach of someone lost less than ``max_age`` frames ago takes the
lost person's id.

Ghosts: the estimator sometimes lays a second, distorted skeleton over a person (on the demo video:
a skeleton stretched from the man's arm across the sky, one from his head to the woman's feet, a
fragment of the woman's head), for one to three frames. A newcomer whose joint box overlaps a
person already tracked (``ghost_overlap`` of the smaller box) is therefore tentative: it gets an id
and is reported only once it has been matched in ``confirm_frames`` frames in a row, and is
forgotten when it misses one. A partner stepping in touching a tracked dancer is thus reported
``confirm_frames - 1`` frames late; anyone appearing apart from the people tracked (and everyone in
a video's first frame, best score first) is reported at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import linear_sum_assignment

from dance_recognition.skeleton.layouts import LAYOUTS
from dance_recognition.skeleton.pose import TRACK_ID_UNKNOWN, PersonPose, PoseFrame, joints_bounds, joints_box

_UNMATCHABLE = 1e6


@dataclass
class Track:
    track_id: int  # TRACK_ID_UNKNOWN while tentative
    keypoints: np.ndarray  # last seen (V, 3)
    age: int = 0  # frames since last seen
    velocity: np.ndarray | None = None  # (2,) body translation in pixels per frame, smoothed
    hits: int = 1  # matches in a row since it was created (counts up to confirmation)

    @property
    def confirmed(self) -> bool:
        return self.track_id != TRACK_ID_UNKNOWN

    def predicted(self) -> np.ndarray:
        """Where the joints should be in the coming frame (last seen + velocity x frames since)."""
        if self.velocity is None:
            return self.keypoints
        moved = self.keypoints.copy()
        moved[:, :2] += self.velocity * (self.age + 1)
        return moved

    def observe(self, keypoints: np.ndarray, smoothing: float) -> None:
        steps = (keypoints[:, :2] - self.keypoints[:, :2]) / (self.age + 1)
        steps = steps[np.isfinite(steps).all(axis=1)]
        if len(steps):
            step = np.median(steps, axis=0)
            self.velocity = step if self.velocity is None else smoothing * self.velocity + (1 - smoothing) * step
        self.keypoints, self.age = keypoints, 0
        self.hits += 1


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
    bounds_a, bounds_b = joints_bounds(a, min_joints=2), joints_bounds(b, min_joints=2)
    if bounds_a is None or bounds_b is None:
        return 0.0
    (low_a, high_a), (low_b, high_b) = bounds_a, bounds_b
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


def box_centre_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between the centres of the boxes around the present joints of two (V, 3) arrays,
    over the larger person's size; inf when either has fewer than two joints."""
    if (a[:, 2] > 0).sum() < 2 or (b[:, 2] > 0).sum() < 2:
        return float("inf")
    distance = np.linalg.norm(joints_box(a)[:2] - joints_box(b)[:2])
    return float(distance / max(person_size(a), person_size(b)))


@dataclass
class PoseTracker:
    """``update(frame)`` sets ``track_id`` of each person in ``frame`` (in place), removes the
    tentative ones (possible ghosts, see the module docstring) and returns it."""

    max_distance: float = 0.5  # gate, in person sizes
    max_age: int = 30  # frames a lost track is kept for re-identification (1 s at 30 fps: a crossing)
    min_shared_joints: int = 3
    velocity_smoothing: float = 0.5  # weight of the previous velocity when a new match arrives
    min_overlap: float = 0.7  # a pose that jumped beyond the gate still matches a track seen in the last frame
    size_weight: float = 0.2  # cost per unit of |log(size ratio)| between a track and a detection
    max_speed: float = 0.1  # person sizes per frame a lost person may have moved (re-identification reach)
    ghost_overlap: float = 0.1  # a newcomer overlapping a tracked person this much is tentative ...
    confirm_frames: int = 4  # ... until matched in this many frames in a row
    tracks: list[Track] = field(default_factory=list)
    next_id: int = 0

    def update(self, frame: PoseFrame) -> PoseFrame:
        people = frame.people
        mirror = _mirror_permutation(frame.layout)
        owners: dict[int, Track] = {}  # person index -> track
        confirmed = [t for t in self.tracks if t.confirmed]
        self._match_poses(confirmed, people, owners, mirror)
        self._match_poses([t for t in self.tracks if not t.confirmed], people, owners, mirror)
        seen = {id(t) for t in owners.values()}
        self._reidentify([t for t in confirmed if t.age > 0 and id(t) not in seen], people, owners)
        seen = {id(t) for t in owners.values()}
        for track in self.tracks:
            if id(track) not in seen:
                track.age += 1
        # a tentative track that misses a frame was a ghost
        self.tracks = [t for t in self.tracks if t.age <= (self.max_age if t.confirmed else 0)]
        self._start_tracks(people, owners)
        for track in self.tracks:
            if not track.confirmed and track.hits >= self.confirm_frames:
                self._confirm(track)
        for j, track in owners.items():
            people[j].track_id = track.track_id
        frame.people = [p for p in people if p.track_id != TRACK_ID_UNKNOWN]
        return frame

    def _start_tracks(self, people: list[PersonPose], owners: dict[int, Track]) -> None:
        """New tracks for the people left; confirmed at once unless they overlap someone in view."""
        newcomers = sorted((j for j in range(len(people)) if j not in owners), key=lambda j: -people[j].score)
        for j in newcomers:
            track = Track(TRACK_ID_UNKNOWN, people[j].keypoints)
            in_view = [t.keypoints for t in self.tracks if t.confirmed and t.age == 0]
            if not any(box_overlap(people[j].keypoints, other) >= self.ghost_overlap for other in in_view):
                self._confirm(track)
            self.tracks.append(track)
            owners[j] = track

    def _confirm(self, track: Track) -> None:
        track.track_id, self.next_id = self.next_id, self.next_id + 1

    def _pose_cost(self, track: Track, person: PersonPose, mirror: np.ndarray | None) -> float:
        predicted = track.predicted()
        distance = pose_distance(predicted, person.keypoints, self.min_shared_joints)
        if mirror is not None:
            distance = min(distance, pose_distance(predicted, person.keypoints[mirror], self.min_shared_joints))
        if distance <= self.max_distance:  # of two candidates, the one of the track's size is preferred
            ratio = person_size(person.keypoints) / person_size(track.keypoints)
            return distance + self.size_weight * abs(float(np.log(ratio)))
        if track.age == 0 and np.isfinite(distance):  # enough shared joints, but beyond the gate
            overlap = box_overlap(track.keypoints, person.keypoints)
            if overlap >= self.min_overlap:  # same place, pose re-estimated: after every pose match
                return self.max_distance + 10.0 - overlap
        return _UNMATCHABLE

    def _match_poses(self, tracks: list[Track], people: list[PersonPose], owners: dict[int, Track],
                     mirror: np.ndarray | None) -> None:
        columns = [j for j in range(len(people)) if j not in owners]
        cost = np.array([[self._pose_cost(t, people[j], mirror) for j in columns] for t in tracks]).reshape(
            len(tracks), len(columns))
        self._assign(tracks, people, columns, cost, owners)

    def _reidentify(self, lost: list[Track], people: list[PersonPose], owners: dict[int, Track]) -> None:
        """Lost tracks against the detections left: by box centre, within a reach growing with time."""
        columns = [j for j in range(len(people)) if j not in owners]
        cost = np.full((len(lost), len(columns)), _UNMATCHABLE)
        for i, track in enumerate(lost):
            reach = self.max_distance + self.max_speed * track.age
            for c, j in enumerate(columns):
                distance = box_centre_distance(track.predicted(), people[j].keypoints)
                if distance <= reach:
                    cost[i, c] = distance
        self._assign(lost, people, columns, cost, owners)

    def _assign(self, tracks: list[Track], people: list[PersonPose], columns: list[int], cost: np.ndarray,
                owners: dict[int, Track]) -> None:
        if not cost.size:
            return
        for i, c in zip(*linear_sum_assignment(cost), strict=True):
            if cost[i, c] < _UNMATCHABLE:
                tracks[i].observe(people[columns[c]].keypoints, self.velocity_smoothing)
                owners[columns[c]] = tracks[i]

    def live_ids(self) -> set[int]:
        """Ids of the confirmed tracks still remembered (seen within ``max_age`` frames)."""
        return {track.track_id for track in self.tracks if track.confirmed}
