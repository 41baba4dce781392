"""Per-person keypoint windows for live recognition.

Each tracked person gets a ring buffer of their last ``window`` observations. A person is ready
for a prediction once they have ``min_frames`` observations and ``stride`` new ones since their
last prediction (so the model runs every ``stride`` frames per person, not on every message).
People not seen for ``timeout_s`` (message time) are dropped and reported, so a robot can clear
their label; the caller decides when to ask (on each frame and on a timer, see action_node). The
window settings may change while people are tracked (``reconfigure`` keeps their newest frames),
and ``clear`` forgets every window (a time jump: old frames must not mix into new windows).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dance_recognition.skeleton.pose import PoseFrame


@dataclass
class PersonWindow:
    track_id: int
    keypoints: deque  # (V, 3) arrays, missing joints zero; maxlen = the window
    stamps: deque  # ns
    new_frames: int = 0
    last_seen_ns: int = 0
    last_box: np.ndarray | None = None  # (4,) centre x, centre y, width, height in the newest frame


@dataclass
class ReadyWindow:
    track_id: int
    sequence: np.ndarray  # (T, V, 3)
    first_stamp_ns: int
    last_stamp_ns: int
    last_box: np.ndarray  # (4,) the person's box in the newest frame (NaN when unknown)


class PersonWindows:
    def __init__(self, window: int, min_frames: int, stride: int, timeout_s: float) -> None:
        self.people: dict[int, PersonWindow] = {}
        self.layout: str | None = None
        self.joint_names: tuple[str, ...] = ()
        self.image_size: tuple[int, int] | None = None
        self.reconfigure(window, min_frames, stride, timeout_s)

    def reconfigure(self, window: int, min_frames: int, stride: int, timeout_s: float) -> None:
        """New settings; the people stay, each keeping their newest ``window`` frames."""
        if not 1 <= min_frames <= window or stride < 1 or timeout_s <= 0:
            raise ValueError("need 1 <= min_frames <= window, stride >= 1 and a positive timeout")
        self.window, self.min_frames, self.stride = window, min_frames, stride
        self.timeout_ns = int(timeout_s * 1e9)
        for buffer in self.people.values():
            if buffer.keypoints.maxlen != window:
                buffer.keypoints = deque(buffer.keypoints, maxlen=window)
                buffer.stamps = deque(buffer.stamps, maxlen=window)

    def clear(self) -> list[int]:
        """Forget everyone; returns who was tracked."""
        gone = sorted(self.people)
        self.people.clear()
        return gone

    def add(self, frame: PoseFrame) -> None:
        if self.layout is not None and (frame.layout, frame.joint_names) != (self.layout, self.joint_names):
            self.people.clear()  # the source switched layouts: old windows are not comparable (nor stackable)
        self.layout, self.joint_names = frame.layout, frame.joint_names
        self.image_size = (frame.image_width, frame.image_height)
        for person in frame.people:
            buffer = self.people.get(person.track_id)
            if buffer is None:
                buffer = self.people[person.track_id] = PersonWindow(
                    person.track_id, deque(maxlen=self.window), deque(maxlen=self.window))
            buffer.keypoints.append(np.nan_to_num(person.keypoints, nan=0.0))
            buffer.stamps.append(frame.stamp_ns)
            buffer.new_frames += 1
            buffer.last_seen_ns = frame.stamp_ns
            buffer.last_box = person.bounding_box()

    def ready(self) -> list[ReadyWindow]:
        windows = []
        for buffer in self.people.values():
            if len(buffer.keypoints) >= self.min_frames and buffer.new_frames >= self.stride:
                buffer.new_frames = 0
                windows.append(ReadyWindow(buffer.track_id, np.stack(buffer.keypoints), buffer.stamps[0],
                                           buffer.stamps[-1], buffer.last_box))
        return windows

    def expire(self, now_ns: int) -> list[int]:
        """Drop the people unseen for longer than the time-out at ``now_ns`` (message time)."""
        gone = [tid for tid, b in self.people.items() if now_ns - b.last_seen_ns > self.timeout_ns]
        for track_id in gone:
            del self.people[track_id]
        return gone
