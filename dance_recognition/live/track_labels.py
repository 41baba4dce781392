"""The latest action label of each tracked person, for drawing, forgotten when the person is.

Labels arrive on the ROS executor's thread while the pose thread draws them, hence the lock. They
are kept only for ids the tracker still remembers: without pruning, labels of people long gone
pile up and, were an id ever reused, would be drawn on someone else.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable


class TrackLabels:
    """track id -> label text, thread-safe, pruned to the live ids."""

    def __init__(self) -> None:
        self._labels: dict[int, str] = {}
        self._lock = threading.Lock()

    def set(self, track_id: int, text: str) -> None:
        with self._lock:
            self._labels[track_id] = text

    def keep_only(self, live_ids: Iterable[int]) -> None:
        """Forget every label whose track is no longer live."""
        live = set(live_ids)
        with self._lock:
            for track_id in [t for t in self._labels if t not in live]:
                del self._labels[track_id]

    def snapshot(self) -> dict[int, str]:
        """A copy to read without holding the lock."""
        with self._lock:
            return dict(self._labels)

    def __len__(self) -> int:
        with self._lock:
            return len(self._labels)
