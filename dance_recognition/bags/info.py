"""``dance-recognition bag info``: what ``ros2 bag info`` shows, plus the label segments found."""
from __future__ import annotations

from datetime import UTC, datetime

from dance_recognition.bags.errors import BagError, LabelError
from dance_recognition.bags.labels import LABEL_EVENT_TYPE, LabelEvent, segments_from_events
from dance_recognition.bags.reader import Bag
from dance_recognition.skeleton.messages import stamp_to_ns


def _time(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _size(path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def label_lines(bag: Bag) -> list[str]:
    """The label segments of every LabelEvent topic, in seconds from the bag start."""
    lines = []
    for topic in bag.topics_of_type(LABEL_EVENT_TYPE):
        try:
            bag.check_decodable(topic)
            events = []
            for message in bag.messages([topic]):
                msg = bag.decode(message)
                events.append(LabelEvent(stamp_to_ns(msg.header.stamp), int(msg.event), str(msg.label),
                                         int(msg.track_id)))
        except (BagError, LabelError) as error:
            lines.append(f"  {topic}: unreadable ({error})")
            continue
        segments, notes = segments_from_events(events, f"topic {topic}")
        lines.append(f"  {topic}: {len(segments)} segment(s)")
        lines += [f"    {segment.describe(bag.start_ns)}" for segment in segments]
        lines += [f"    note: {note}" for note in notes]
    return lines


def info_lines(bag: Bag) -> list[str]:
    duration = bag.duration_s
    lines = [
        f"Bag:               {bag.path}",
        f"Files:             {', '.join(bag.files)}",
        f"Bag size:          {_size(bag.path) / 1e6:.2f} MB",
        f"Storage id:        {bag.storage}",
        f"Duration:          {duration:.3f}s",
        f"Start:             {_time(bag.start_ns)}",
        f"End:               {_time(bag.end_ns)}",
        f"Messages:          {bag.message_count}",
        "Topic information:",
    ]
    width = max((len(name) for name in bag.topics), default=0)
    for name, topic in sorted(bag.topics.items()):
        rate = topic.count / duration if duration > 0 else 0.0
        lines.append(f"  {name:<{width}}  {topic.msgtype}  {topic.count} msgs  {rate:.1f} Hz  "
                     f"{topic.serialization_format}")
    labels = label_lines(bag)
    lines.append("Label segments:" + ("" if labels else "    none (no dance_recognition/msg/LabelEvent topic)"))
    lines += labels
    lines += [f"Note: {note}" for note in bag.notes]
    return lines
