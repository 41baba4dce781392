"""Per-person streaming state for live recognition: the streaming counterpart of person_windows.

A person's state (each block's recent columns) is created when their track appears, reset when
their time jumps backwards or they were unseen for longer than ``max_gap_s`` (their buffered
columns would join frames that are not consecutive), and dropped when they time out. All persons
of a frame that are at the same point of the prediction schedule are advanced in ONE batched
call; persons seen in every frame always are (a person's schedule is aligned with the frame
counter when their state is created, and only a frame they missed puts them out of step).

``body_centred`` models: a stream normalises each frame when it arrives, with the median torso
length of that person's last ``window`` frames (the window model uses the median of the whole
window, including frames that come later), so a body_centred stream is close to, not equal to,
the window model's input; ``kinetics`` models get exactly the window model's input.
"""
from __future__ import annotations

import warnings
from collections import defaultdict, deque
from dataclasses import dataclass, field

import numpy as np
import torch

from dance_recognition.models.streaming_classifier import StreamingClassifier
from dance_recognition.skeleton.pose import PoseFrame


@dataclass
class PersonStream:
    track_id: int
    state: list[torch.Tensor]
    offset: int  # schedule phase of the person's first frame
    frames: int = 0  # frames since the state was created or reset
    last_seen_ns: int = 0
    stamps: deque = field(default_factory=deque)  # ns of the frames the next prediction covers
    torso: deque = field(default_factory=deque)  # torso lengths of those frames (body_centred scale)
    detected: deque = field(default_factory=deque)  # whether any joint was detected in those frames
    last_box: np.ndarray | None = None

    @property
    def phase(self) -> int:
        return self.offset + self.frames  # reduced modulo ``every`` by the caller


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
        return gone

    def ready(self) -> list[StreamPrediction]:
        """The predictions of the last ``add`` (the PersonWindows interface of a window node)."""
        due, self._due = self._due, []
        return due

    def _new_stream(self, track_id: int) -> PersonStream:
        return PersonStream(track_id, self.classifier.initial_state(1), offset=self.clock % self.every,
                            stamps=deque(maxlen=self.window), torso=deque(maxlen=self.window),
                            detected=deque(maxlen=self.window))

    def _stream_for(self, track_id: int, stamp_ns: int) -> PersonStream:
        stream = self.people.get(track_id)
        if stream is not None and (stamp_ns <= stream.last_seen_ns or stamp_ns - stream.last_seen_ns > self.max_gap_ns):
            stream = None  # time went backwards (a replayed bag) or a gap: the buffers no longer fit
            self.resets += 1
        if stream is None:
            stream = self.people[track_id] = self._new_stream(track_id)
        return stream

    def add(self, frame: PoseFrame) -> list[StreamPrediction]:
        """Advance every person of ``frame``; returns the predictions that are due."""
        if self.layout is not None and frame.layout != self.layout:
            self.people.clear()  # the source switched layouts: old states are not comparable
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
        groups: dict[int, list[int]] = defaultdict(list)
        for index, stream in enumerate(streams):
            groups[stream.phase % self.every].append(index)
        predictions = []
        for phase, members in groups.items():
            predictions.extend(self._advance([streams[i] for i in members], inputs[members], phase))
        for stream in streams:
            stream.frames += 1
        return predictions

    def _advance(self, streams: list[PersonStream], inputs: torch.Tensor, phase: int) -> list[StreamPrediction]:
        """One batched streaming step for persons at the same schedule phase."""
        if len(streams) == 1:
            state = streams[0].state
        else:
            state = [torch.cat(parts) for parts in zip(*(s.state for s in streams), strict=True)]
        probabilities, state = self.classifier.step(inputs, phase, state)
        self.batches += 1
        for index, stream in enumerate(streams):
            stream.state = [part[index:index + 1] for part in state]
        if probabilities is None:
            return []
        return [
            StreamPrediction(stream.track_id, probabilities[index], stream.stamps[0], stream.stamps[-1],
                             len(stream.stamps), stream.last_box)
            # no label for a "person" without a single detected joint in the window (not a guess)
            for index, stream in enumerate(streams) if stream.frames + 1 >= self.window and any(stream.detected)
        ]

    def expire(self, now_ns: int) -> list[int]:
        gone = [tid for tid, s in self.people.items() if now_ns - s.last_seen_ns > self.timeout_ns]
        for track_id in gone:
            del self.people[track_id]
        return gone
