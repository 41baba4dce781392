"""Who is present: the set of tracked people and how it changed since the last report.

A robot needs "who left" as an event, not as the absence of messages: ``update`` returns the
people tracked now (ascending), those who entered and those who left since the previous call,
which is what dance_recognition/TrackedPeople carries.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PresenceChange:
    track_ids: list[int]
    entered: list[int]
    left: list[int]


@dataclass
class Presence:
    current: set[int] = field(default_factory=set)

    def update(self, track_ids: Iterable[int]) -> PresenceChange:
        now = set(track_ids)
        change = PresenceChange(sorted(now), sorted(now - self.current), sorted(self.current - now))
        self.current = now
        return change
