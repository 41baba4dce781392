"""Bags written for tests with the package's own writer: Skeleton messages of generated moves
(real CDR, serialized by the rosbags typestore from this package's msg/ definitions) and
LabelEvent messages, as a live session with the labeller would leave them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dance_recognition.bags.typestore import writing_typestore
from dance_recognition.bags.writer import BagWriter, qos_profile
from dance_recognition.data.synthetic import generate_move
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18, get_layout

START_NS = 1_764_000_000_000_000_000  # a stamp in 2025, like a live recording's
SKELETON = "dance_recognition/msg/Skeleton"
LABEL_EVENT = "dance_recognition/msg/LabelEvent"


def _time(stamp_ns: int):
    store = writing_typestore()
    return store.types["builtin_interfaces/msg/Time"](sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def _header(stamp_ns: int, frame_id: str = "camera"):
    return writing_typestore().types["std_msgs/msg/Header"](stamp=_time(stamp_ns), frame_id=frame_id)


def skeleton_cdr(stamp_ns: int, people: dict[int, np.ndarray], size: tuple[int, int] = (640, 480),
                 layout: str = OPENPOSE_COCO_18.name) -> bytes:
    """A serialized Skeleton; ``people``: track id -> (V, 3) x, y, confidence (0 = missing)."""
    store = writing_typestore()
    person_type = store.types["dance_recognition/msg/PersonKeypoints"]
    empty = np.zeros(0, np.float32)
    persons = []
    for track_id, keypoints in people.items():
        keypoints = np.asarray(keypoints, np.float32)
        missing = keypoints[:, 2] <= 0
        x = np.where(missing, np.nan, keypoints[:, 0]).astype(np.float32)
        y = np.where(missing, np.nan, keypoints[:, 1]).astype(np.float32)
        persons.append(person_type(track_id=track_id, score=1.0, box_center_x=np.nan, box_center_y=np.nan,
                                   box_width=np.nan, box_height=np.nan, x=x, y=y, z=empty,
                                   confidence=keypoints[:, 2].astype(np.float32), world_x=empty, world_y=empty,
                                   world_z=empty))
    msg = store.types[SKELETON](header=_header(stamp_ns), image_width=size[0], image_height=size[1], layout=layout,
                                joint_names=list(get_layout(layout).joint_names), backend="test/generated",
                                people=persons)
    return bytes(store.serialize_cdr(msg, SKELETON))


def label_event_cdr(stamp_ns: int, event: int, label: str, track_id: int = -1) -> bytes:
    store = writing_typestore()
    msg = store.types[LABEL_EVENT](header=_header(stamp_ns, ""), event=event, label=label, track_id=track_id)
    return bytes(store.serialize_cdr(msg, LABEL_EVENT))


@dataclass
class SampleBag:
    path: Path
    frames: int
    stamps: list[int] = field(default_factory=list)  # skeleton header stamps
    segments: list[tuple[str, int, int]] = field(default_factory=list)  # label, first frame, end frame


def write_moves_bag(path: Path, moves: list[tuple[str, int]], storage: str = "mcap", fps: float = 30.0,
                    tracks: tuple[int, ...] = (0,), events: bool = True, seed: int = 0,
                    extra_topics: bool = True, flush_every: int = 0, max_bytes: int = 0,
                    max_duration_s: float = 0.0) -> SampleBag:
    """Consecutive moves (label, frames) performed by every track, with START events at each move
    (a labeller switching keys) and a STOP at the end; receive stamps 5 ms after the header stamps."""
    rng = np.random.default_rng(seed)
    total = sum(frames for _, frames in moves)
    sequences = {}
    for track_id in tracks:
        parts = [generate_move(label if label in ("wave", "squat", "march", "raise_arms", "arm_circles") else "wave",
                               frames, rng) for label, frames in moves]
        sequences[track_id] = np.concatenate(parts)
    result = SampleBag(path, total)
    with BagWriter(path, storage, max_bytes=max_bytes, max_duration_s=max_duration_s) as writer:
        writer.add_topic("/skeletons", SKELETON, [qos_profile(reliable=True)])
        writer.add_topic("/labels", LABEL_EVENT, [qos_profile(reliable=True)])
        if extra_topics:
            writer.add_topic("/chatter", "std_msgs/msg/String", [qos_profile()])
        period = round(1e9 / fps)
        first = 0
        for label, frames in moves:
            if events:
                stamp = START_NS + first * period - period // 2
                writer.write("/labels", stamp + 1_000_000, label_event_cdr(stamp, 0, label))
            result.segments.append((label, first, first + frames))
            first += frames
        for index in range(total):
            stamp = START_NS + index * period
            result.stamps.append(stamp)
            people = {track_id: sequence[index] for track_id, sequence in sequences.items()}
            writer.write("/skeletons", stamp + 5_000_000, skeleton_cdr(stamp, people))
            if flush_every and index % flush_every == flush_every - 1:
                writer.flush()  # as the recorder does every second
        if events:
            stamp = START_NS + total * period
            writer.write("/labels", stamp + 1_000_000, label_event_cdr(stamp, 1, moves[-1][0]))
        if extra_topics:
            store = writing_typestore()
            text = store.types["std_msgs/msg/String"](data="hello")
            writer.write("/chatter", START_NS, bytes(store.serialize_cdr(text, "std_msgs/msg/String")))
    return result
