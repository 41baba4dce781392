"""OpenPose's bottom-up decoding: confidence maps + part affinity fields -> people.

Cao et al., "Realtime Multi-Person 2D Pose Estimation using Part Affinity Fields" (CVPR 2017).
The network gives, at 1/stride of its input, one confidence map per joint (plus background) and
a 2-D vector field per limb that points from the limb's first joint to its second. Decoding:

1. joint candidates: local maxima of each (smoothed) confidence map above a threshold;
2. limb candidates: for each limb and each pair of candidates, the mean alignment of the field
   with the segment between them (line integral, sampled), with a penalty for limbs longer than
   half the image; a pair counts only when most samples agree;
3. greedy matching per limb (best score first, each candidate used once), then assembly of the
   limbs into people along the tree of limbs, merging partial people that share no joint.

Which field channels belong to which limb is model-specific and taken from OpenPose's
``poseParameters.cpp`` (``POSE_BODY_PART_PAIRS`` / ``POSE_MAP_INDEX``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dance_recognition.skeleton.layouts import OPENPOSE_BODY_25, OPENPOSE_COCO_18, Layout


@dataclass(frozen=True)
class PafModelSpec:
    """Output layout of one OpenPose body model: joint maps first, then background, then fields."""

    layout: Layout
    limbs: tuple[tuple[int, int], ...]  # joint index pairs, in assembly order
    field_channels: tuple[tuple[int, int], ...]  # (x, y) field channel of each limb, counted after the maps

    @property
    def num_heatmaps(self) -> int:
        return self.layout.num_joints + 1  # + background

    @property
    def num_channels(self) -> int:
        return self.num_heatmaps + 2 * len(self.limbs)


def _pairs(flat: str) -> tuple[tuple[int, int], ...]:
    values = [int(v) for v in flat.replace(",", " ").split()]
    return tuple(zip(values[0::2], values[1::2], strict=True))


PAF_MODELS: dict[str, PafModelSpec] = {
    "COCO": PafModelSpec(
        layout=OPENPOSE_COCO_18,
        limbs=_pairs("1,2 1,5 2,3 3,4 5,6 6,7 1,8 8,9 9,10 1,11 11,12 12,13 1,0 0,14 14,16 0,15 15,17 2,16 5,17"),
        field_channels=_pairs("12,13 20,21 14,15 16,17 22,23 24,25 0,1 2,3 4,5 6,7 8,9 10,11 28,29 30,31 34,35 "
                              "32,33 36,37 18,19 26,27"),
    ),
    "BODY_25": PafModelSpec(
        layout=OPENPOSE_BODY_25,
        limbs=_pairs("1,8 1,2 1,5 2,3 3,4 5,6 6,7 8,9 9,10 10,11 8,12 12,13 13,14 1,0 0,15 15,17 0,16 16,18 2,17 "
                     "5,18 14,19 19,20 14,21 11,22 22,23 11,24"),
        field_channels=_pairs("0,1 14,15 22,23 16,17 18,19 24,25 26,27 6,7 2,3 4,5 8,9 10,11 12,13 30,31 32,33 "
                              "36,37 34,35 38,39 20,21 28,29 40,41 42,43 44,45 46,47 48,49 50,51"),
    ),
}


@dataclass(frozen=True)
class PafThresholds:
    """OpenPose's defaults."""

    peak: float = 0.1  # minimum joint confidence for a candidate
    field: float = 0.05  # minimum field alignment of one sample along a limb
    fraction: float = 0.8  # share of samples that must pass ``field``
    samples: int = 10  # points sampled along each candidate limb
    min_joints: int = 3  # people with fewer joints are dropped
    min_score: float = 0.4  # minimum mean score (joint + limb scores / joints)


def find_peaks(heatmap: np.ndarray, threshold: float, blur_sigma: float = 3.0) -> np.ndarray:
    """(K, 3) candidates = x, y, score: 3x3 local maxima of the smoothed map above ``threshold``."""
    smooth = cv2.GaussianBlur(heatmap.astype(np.float32), (0, 0), blur_sigma) if blur_sigma > 0 else heatmap
    local_max = cv2.dilate(smooth, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero((smooth >= local_max) & (smooth > threshold))
    return np.stack([xs, ys, heatmap[ys, xs]], axis=1).astype(np.float32) if len(xs) else np.zeros((0, 3), np.float32)


def _limb_candidates(a: np.ndarray, b: np.ndarray, field_x: np.ndarray, field_y: np.ndarray,
                     thresholds: PafThresholds) -> list[tuple[int, int, float]]:
    """Scored (i, j, score) pairs between candidates ``a`` and ``b``, best first, each used once."""
    if len(a) == 0 or len(b) == 0:
        return []
    height, width = field_x.shape
    steps = np.linspace(0.0, 1.0, thresholds.samples, dtype=np.float32)
    scored = []
    for i, (ax, ay, _) in enumerate(a):
        for j, (bx, by, _) in enumerate(b):
            dx, dy = bx - ax, by - ay
            length = float(np.hypot(dx, dy))
            if length < 1e-6:
                continue
            xs = np.clip(np.round(ax + steps * dx).astype(int), 0, width - 1)
            ys = np.clip(np.round(ay + steps * dy).astype(int), 0, height - 1)
            alignment = (field_x[ys, xs] * dx + field_y[ys, xs] * dy) / length
            score = float(alignment.mean()) + min(0.5 * height / length - 1.0, 0.0)
            if score > 0 and np.mean(alignment > thresholds.field) >= thresholds.fraction:
                scored.append((score + a[i, 2] + b[j, 2], i, j, score))
    scored.sort(reverse=True)
    used_a, used_b, chosen = set(), set(), []
    for _, i, j, score in scored:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            chosen.append((i, j, score))
    return chosen


class _PartialPeople:
    """People assembled limb by limb (OpenPose's greedy grouping): each person is a candidate
    index per joint (-1 = none), a summed score and a joint count; ``owner`` says which person a
    (joint, candidate) already belongs to."""

    def __init__(self, candidates: list[np.ndarray], num_joints: int) -> None:
        self.candidates, self.num_joints = candidates, num_joints
        self.people: list[tuple[np.ndarray, float, int]] = []
        self.owner: dict[tuple[int, int], int] = {}

    def add_limb(self, ja: int, i: int, jb: int, j: int, score: float) -> None:
        pa, pb = self.owner.get((ja, i)), self.owner.get((jb, j))
        if pa is None and pb is None:
            self._new(ja, i, jb, j, score)
        elif pa is not None and pb is not None:
            if pa != pb:
                self._merge(pa, pb, score)
        elif pa is not None:
            self._extend(pa, jb, j, score)
        else:
            self._extend(pb, ja, i, score)

    def _new(self, ja: int, i: int, jb: int, j: int, score: float) -> None:
        slots = np.full(self.num_joints, -1)
        slots[ja], slots[jb] = i, j
        self.people.append((slots, self.candidates[ja][i, 2] + self.candidates[jb][j, 2] + score, 2))
        self.owner[(ja, i)] = self.owner[(jb, j)] = len(self.people) - 1

    def _merge(self, pa: int, pb: int, score: float) -> None:
        """Two partial people joined by this limb become one, unless they claim the same joint."""
        slots_a, score_a, count_a = self.people[pa]
        slots_b, score_b, count_b = self.people[pb]
        if np.any((slots_a >= 0) & (slots_b >= 0)):
            return  # the two partial people conflict: keep them apart
        self.people[pa] = (np.where(slots_a >= 0, slots_a, slots_b), score_a + score_b + score, count_a + count_b)
        self.people[pb] = (np.full(self.num_joints, -1), 0.0, 0)
        for joint in np.nonzero(slots_b >= 0)[0]:
            self.owner[(int(joint), int(slots_b[joint]))] = pa

    def _extend(self, person: int, joint: int, candidate: int, score: float) -> None:
        slots, total, count = self.people[person]
        if slots[joint] >= 0:
            return  # that joint of this person is taken already
        slots = slots.copy()
        slots[joint] = candidate
        self.people[person] = (slots, total + self.candidates[joint][candidate, 2] + score, count + 1)
        self.owner[(joint, candidate)] = person

    def keypoints(self, thresholds: PafThresholds) -> list[np.ndarray]:
        """(J, 3) keypoints of each person with enough joints and score, most confident first."""
        result = []
        for slots, total, count in self.people:
            if count < thresholds.min_joints or total / count < thresholds.min_score:
                continue
            keypoints = np.zeros((self.num_joints, 3), np.float32)
            for joint in np.nonzero(slots >= 0)[0]:
                keypoints[joint] = self.candidates[joint][slots[joint]]
            result.append(keypoints)
        result.sort(key=lambda k: -float(k[:, 2].sum()))
        return result


def group_people(heatmaps: np.ndarray, fields: np.ndarray, spec: PafModelSpec,
                 thresholds: PafThresholds | None = None) -> list[np.ndarray]:
    """Decode maps of one image into people.

    heatmaps: (J+1, H, W) joint confidence maps (+ background); fields: (2L, H, W).
    Returns one (J, 3) array per person: x, y in map pixels, confidence (0 where missing).
    """
    thresholds = thresholds or PafThresholds()
    num_joints = spec.layout.num_joints
    if heatmaps.shape[0] < num_joints or fields.shape[0] != 2 * len(spec.limbs):
        raise ValueError(
            f"{spec.layout.name} decoding needs >= {num_joints} joint maps and {2 * len(spec.limbs)} field "
            f"channels, got {heatmaps.shape[0]} and {fields.shape[0]}"
        )
    candidates = [find_peaks(heatmaps[k], thresholds.peak) for k in range(num_joints)]
    people = _PartialPeople(candidates, num_joints)
    for (ja, jb), (cx, cy) in zip(spec.limbs, spec.field_channels, strict=True):
        for i, j, score in _limb_candidates(candidates[ja], candidates[jb], fields[cx], fields[cy], thresholds):
            people.add_limb(ja, i, jb, j, score)
    return people.keypoints(thresholds)


def decode_network_output(output: np.ndarray, spec: PafModelSpec, image_size: tuple[int, int],
                          input_size: tuple[int, int], thresholds: PafThresholds | None = None) -> list[np.ndarray]:
    """(C, h, w) raw network output -> people in IMAGE pixels (missing joints NaN, confidence 0).

    The maps are upsampled to the network input size (where the limb-length penalty and peak
    smoothing have OpenPose's meaning), decoded, then scaled to the image.
    """
    if output.ndim != 3 or output.shape[0] != spec.num_channels:
        raise ValueError(
            f"OpenPose {spec.layout.name} output must be ({spec.num_channels}, h, w), got {output.shape}"
        )
    in_w, in_h = input_size
    maps = np.stack([cv2.resize(channel, (in_w, in_h), interpolation=cv2.INTER_CUBIC) for channel in output])
    people = group_people(maps[: spec.num_heatmaps], maps[spec.num_heatmaps:], spec, thresholds)
    width, height = image_size
    scale = np.array([width / in_w, height / in_h], np.float32)
    for keypoints in people:
        missing = keypoints[:, 2] <= 0
        keypoints[:, :2] = (keypoints[:, :2] + 0.5) * scale - 0.5
        keypoints[missing] = (np.nan, np.nan, 0.0)
    return people
