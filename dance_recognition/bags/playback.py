"""What ``bag play`` publishes and when, without ROS: topic selection, remapping and timing.

Messages keep the bag's receive-time spacing divided by ``rate``: a message received ``d``
seconds after the playback start point is published ``d / rate`` seconds after playback began
(``start_offset_s`` skips the bag's first seconds). ``bag_time_ns`` is the bag time being played,
what ``/clock`` publishes so nodes under ``use_sim_time`` see the recording's time.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from dance_recognition.bags.errors import BagError
from dance_recognition.bags.reader import Bag, BagMessage


def parse_remaps(remaps: list[str]) -> dict[str, str]:
    """``/from:=/to`` pairs (as ``ros2 bag play --remap``)."""
    result = {}
    for remap in remaps:
        source, separator, target = remap.partition(":=")
        if not separator or not source or not target:
            raise BagError(f"remap {remap!r} is not FROM:=TO (e.g. /skeletons:=/robot1/skeletons)")
        result[source] = target
    return result


def select_topics(bag: Bag, topics: list[str] | None) -> list[str]:
    if not topics:
        return sorted(bag.topics)
    missing = sorted(set(topics) - set(bag.topics))
    if missing:
        raise BagError(f"{bag.path}: has no topic {', '.join(missing)}; its topics: {bag.describe_topics()}")
    return sorted(set(topics))


@dataclass
class PlaybackClock:
    """Bag time <-> wall time for one pass over the bag."""

    bag_start_ns: int
    rate: float = 1.0
    wall_start: float = 0.0

    def start(self) -> None:
        self.wall_start = time.monotonic()

    def due(self, log_time_ns: int) -> float:
        """Monotonic time at which a message received at ``log_time_ns`` is published."""
        return self.wall_start + (log_time_ns - self.bag_start_ns) / 1e9 / self.rate

    @property
    def bag_time_ns(self) -> int:
        return self.bag_start_ns + round((time.monotonic() - self.wall_start) * self.rate * 1e9)


def timed_messages(bag: Bag, topics: list[str], clock: PlaybackClock) -> Iterator[tuple[float, BagMessage]]:
    """(due time, message) from the start point on, in receive-time order."""
    for message in bag.messages(topics):
        if message.log_time_ns >= clock.bag_start_ns:
            yield clock.due(message.log_time_ns), message
