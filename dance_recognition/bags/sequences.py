"""Skeleton frames of a bag -> per-track keypoint sequences placed by their own stamps.

Frames are ordered by the skeleton's header stamp (the camera image's capture time), never by
the bag's receive time, which carries transport jitter:

- out-of-order stamps (a frame received after a newer one) are sorted into place and counted;
- a repeated stamp (the same image processed twice) keeps the first frame and counts the rest;
- a gap longer than ``max_gap_s`` between consecutive stamps (a stalled camera, a paused
  recording) splits the frames into separate runs: a window never spans a gap, so a sample is
  always continuous motion. Shorter gaps (dropped frames) are kept as they are: frames stay
  frames, not a resampled time grid, as in the live action node.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from dance_recognition.data.extract import frame_keypoints, stack_tracks
from dance_recognition.skeleton.pose import PoseFrame


@dataclass
class Run:
    """Consecutive frames without a long gap: ``stamps[i]`` is frame ``offset + i`` of the bag."""

    offset: int
    stamps: np.ndarray  # (F,) int64 ns
    tracks: dict[int, np.ndarray]  # track id -> (F, V, 3)
    image_sizes: list[tuple[int, int]]


@dataclass
class SequenceStats:
    frames: int = 0
    frames_without_person: int = 0
    out_of_order: int = 0
    duplicates: int = 0
    gaps: int = 0
    notes: list[str] = field(default_factory=list)


def order_frames(frames: list[PoseFrame], stats: SequenceStats) -> list[PoseFrame]:
    """Stamp order, duplicates dropped; counts both in ``stats``."""
    newest = None
    for frame in frames:
        if newest is not None and frame.stamp_ns < newest:
            stats.out_of_order += 1
        newest = frame.stamp_ns if newest is None else max(newest, frame.stamp_ns)
    ordered = sorted(frames, key=lambda f: f.stamp_ns)  # stable: the first received of equal stamps first
    unique = [frame for index, frame in enumerate(ordered)
              if index == 0 or frame.stamp_ns != ordered[index - 1].stamp_ns]
    stats.duplicates += len(ordered) - len(unique)
    return unique


def build_runs(frames: list[PoseFrame], target_layout: str, max_gap_s: float, stats: SequenceStats) -> list[Run]:
    frames = order_frames(frames, stats)
    stats.frames = len(frames)
    if not frames:
        return []
    stamps = np.array([f.stamp_ns for f in frames], dtype=np.int64)
    cuts = [0, *(np.flatnonzero(np.diff(stamps) > max_gap_s * 1e9) + 1).tolist(), len(frames)]
    stats.gaps += len(cuts) - 2
    runs = []
    for first, last in itertools.pairwise(cuts):
        seen: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
        for index, frame in enumerate(frames[first:last]):
            if not frame.people:
                stats.frames_without_person += 1
            for track_id, keypoints in frame_keypoints(frame, target_layout).items():
                seen[track_id][index] = keypoints
        runs.append(Run(first, stamps[first:last], stack_tracks(seen, last - first),
                        [(f.image_width, f.image_height) for f in frames[first:last]]))
    if stats.out_of_order or stats.duplicates or stats.gaps:
        stats.notes.append(f"{stats.out_of_order} frame(s) arrived out of stamp order (sorted), "
                           f"{stats.duplicates} repeated stamp(s) dropped, {stats.gaps} gap(s) over {max_gap_s:g} s "
                           "(windows do not span them)")
    return runs
