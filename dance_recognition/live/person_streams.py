"""Per-person streaming state for live recognition: the streaming counterpart of person_windows.

A person's state (each block's ring of recent columns) is created when their track appears, reset
when their time jumps backwards or they were unseen for longer than ``max_gap_s`` (their buffered
columns would join frames that are not consecutive), and dropped when they time out.

Batching. The rings of a batch of persons are one set of tensors (one row per person) advanced
in place by ONE call, so they must share the frame count that places columns in the rings. A new
person joins the persons created with the current frame counter (their zeroed rows go into that
batch: after ``window`` frames only their own columns are read), so persons seen in every frame
stay in one batch and nothing is copied per frame. A person who misses a frame falls one count
behind: their rows move to a batch of their own (one copy), joined again by anyone at the same
count.

``body_centred`` models: a stream normalises each frame when it arrives, with the median torso
length of that person's last ``window`` frames (the window model uses the median of the whole
window, including frames that come later), so a body_centred stream is close to, not equal to,
the window model's input; ``kinetics`` models get exactly the window model's input.
"""
from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from dance_recognition.models.streaming_classifier import StreamingClassifier
from dance_recognition.skeleton.pose import PoseFrame


@dataclass
class PersonStream:
    track_id: int
    count: int  # frames the person's rings took in, counted from the clock value at creation
    frames: int = 0  # frames since the state was created or reset
    last_seen_ns: int = 0
    stamps: deque = field(default_factory=deque)  # ns of the frames the next prediction covers
    torso: deque = field(default_factory=deque)  # torso lengths of those frames (body_centred scale)
    detected: deque = field(default_factory=deque)  # whether any joint was detected in those frames
    last_box: np.ndarray | None = None


@dataclass
class StateBatch:
    """Ring buffers of persons at the same frame count: row i belongs to ``members[i]``."""

    count: int
    members: list[int]
    state: list[torch.Tensor]

    def take(self, rows: list[int]) -> StateBatch:
        """A batch of some of these rows (a copy of their buffers)."""
        index = torch.tensor(rows, dtype=torch.long, device=self.state[0].device)
        return StateBatch(self.count, [self.members[r] for r in rows], [part.index_select(0, index)
                                                                       for part in self.state])

    def join(self, other: StateBatch) -> None:
        """Append ``other``'s rows (same count)."""
        self.members += other.members
        self.state = [torch.cat(parts) for parts in zip(self.state, other.state, strict=True)]


@dataclass
class StreamPrediction:
    track_id: int
    probabilities: np.ndarray  # (classes,)
    first_stamp_ns: int
    last_stamp_ns: int
    num_frames: int
    last_box: np.ndarray  # (4,) centre x, centre y, width, height in the newest frame (NaN when unknown)


class PersonStreams:
    def __init__(self, classifier: StreamingClassifier, max_gap_s: float, timeout_s: float) -> None:
        if max_gap_s <= 0 or timeout_s <= 0:
            raise ValueError("max_gap_s and timeout_s must be positive")
        self.classifier = classifier
        self.window, self.every = classifier.plan.window, classifier.plan.every
        self.max_gap_ns, self.timeout_ns = int(max_gap_s * 1e9), int(timeout_s * 1e9)
        self.people: dict[int, PersonStream] = {}
        self.state_batches: list[StateBatch] = []
        self._due: list[StreamPrediction] = []
        self.layout: str | None = None
        self.image_size: tuple[int, int] | None = None
        self.clock = 0  # frames received before the current one
        self.resets = 0
        self.batches = 0  # batched model calls, for diagnostics

    def reconfigure(self, max_gap_s: float, timeout_s: float) -> None:
        """New gap and time-out limits; the people and their states stay."""
        if max_gap_s <= 0 or timeout_s <= 0:
            raise ValueError("max_gap_s and timeout_s must be positive")
        self.max_gap_ns, self.timeout_ns = int(max_gap_s * 1e9), int(timeout_s * 1e9)

    def clear(self) -> list[int]:
        """Forget everyone (their states too); returns who was tracked."""
        gone = sorted(self.people)
        self.people.clear()
        self.state_batches.clear()
        return gone

    def ready(self) -> list[StreamPrediction]:
        """The predictions of the last ``add`` (the PersonWindows interface of a window node)."""
        due, self._due = self._due, []
        return due

    def _new_stream(self, track_id: int) -> PersonStream:
        return PersonStream(track_id, count=self.clock, stamps=deque(maxlen=self.window),
                            torso=deque(maxlen=self.window), detected=deque(maxlen=self.window))

    def _stream_for(self, track_id: int, stamp_ns: int) -> PersonStream:
        stream = self.people.get(track_id)
        if stream is not None and (stamp_ns <= stream.last_seen_ns or stamp_ns - stream.last_seen_ns > self.max_gap_ns):
            self._forget([track_id])  # time went backwards (a replayed bag) or a gap: the buffers no longer fit
            stream = None
            self.resets += 1
        if stream is None:
            stream = self.people[track_id] = self._new_stream(track_id)
        return stream

    def _forget(self, track_ids: list[int]) -> None:
        """Drop these persons and their rows."""
        gone = set(track_ids)
        for track_id in gone:
            self.people.pop(track_id, None)
        kept = []
        for batch in self.state_batches:
            rows = [row for row, member in enumerate(batch.members) if member not in gone]
            if len(rows) == len(batch.members):
                kept.append(batch)
            elif rows:
                kept.append(batch.take(rows))
        self.state_batches = kept

    def add(self, frame: PoseFrame) -> list[StreamPrediction]:
        """Advance every person of ``frame``; returns the predictions that are due."""
        if self.layout is not None and frame.layout != self.layout:
            self.clear()  # the source switched layouts: old states are not comparable
        self.layout, self.image_size = frame.layout, (frame.image_width, frame.image_height)
        try:
            self._due = self._advance_people(frame) if frame.people else []
        finally:
            self.clock += 1
        return list(self._due)

    def _advance_people(self, frame: PoseFrame) -> list[StreamPrediction]:
        people = list({p.track_id: p for p in reversed(frame.people)}.values())[::-1]  # a track id once per frame
        keypoints = self.classifier.convert(np.stack([np.nan_to_num(p.keypoints, nan=0.0) for p in people]),
                                            frame.layout)
        torso = self.classifier.torso_lengths(keypoints)
        streams = []
        for person, length in zip(people, torso, strict=True):
            stream = self._stream_for(person.track_id, frame.stamp_ns)
            stream.stamps.append(frame.stamp_ns)
            stream.torso.append(length)
            stream.detected.append(bool((np.nan_to_num(person.keypoints[:, 2]) > 0).any()))
            stream.last_seen_ns, stream.last_box = frame.stamp_ns, person.bounding_box()
            streams.append(stream)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # nobody's torso seen yet: all-NaN
            scales = np.array([np.nanmedian(np.asarray(s.torso, np.float32)) for s in streams], np.float32)
        inputs = self.classifier.prepare(keypoints, self.image_size, scales)
        row_of = {stream.track_id: index for index, stream in enumerate(streams)}
        predictions = []
        for batch in self._present_batches(streams):
            rows = [row_of[m] for m in batch.members]
            predictions.extend(self._advance(batch, inputs if rows == list(range(len(inputs))) else inputs[rows]))
        for stream in streams:
            stream.frames += 1
            stream.count += 1
        return predictions

    def _present_batches(self, streams: list[PersonStream]) -> list[StateBatch]:
        """One batch per frame count holding exactly the persons of this frame at that count:
        new persons join (zeroed rows), absent ones are split off, equal counts merged."""
        present = {stream.track_id for stream in streams}
        batched = {member for batch in self.state_batches for member in batch.members}
        by_count: dict[int, StateBatch] = {}
        kept: list[StateBatch] = []
        for batch in self.state_batches:
            here = [row for row, member in enumerate(batch.members) if member in present]
            if here and len(here) < len(batch.members):  # someone missed this frame: split them off
                kept.append(batch.take([r for r in range(len(batch.members)) if r not in set(here)]))
                batch = batch.take(here)
            if not here:
                kept.append(batch)
            elif batch.count in by_count:
                by_count[batch.count].join(batch)
            else:
                by_count[batch.count] = batch
        for stream in streams:
            if stream.track_id not in batched:  # new or reset: zeroed rows at the current clock
                fresh = StateBatch(stream.count, [stream.track_id], self.classifier.initial_state(1))
                if stream.count in by_count:
                    by_count[stream.count].join(fresh)
                else:
                    by_count[stream.count] = fresh
        self.state_batches = kept + list(by_count.values())
        return list(by_count.values())

    def _advance(self, batch: StateBatch, inputs: torch.Tensor) -> list[StreamPrediction]:
        """One batched streaming step, in place, for the persons of ``batch``."""
        probabilities, batch.state = self.classifier.step(inputs, batch.count, batch.state)
        batch.count += 1
        self.batches += 1
        if probabilities is None:
            return []
        predictions = []
        for index, track_id in enumerate(batch.members):
            stream = self.people[track_id]
            # no label for a "person" without a single detected joint in the window (not a guess)
            if stream.frames + 1 >= self.window and any(stream.detected):
                predictions.append(StreamPrediction(track_id, probabilities[index], stream.stamps[0],
                                                    stream.stamps[-1], len(stream.stamps), stream.last_box))
        return predictions

    def expire(self, now_ns: int) -> list[int]:
        gone = [tid for tid, s in self.people.items() if now_ns - s.last_seen_ns > self.timeout_ns]
        self._forget(gone)
        return gone
