"""recorder_node: records topics into a rosbag2 bag (MCAP or SQLite3), like `ros2 bag record`.

Messages are written exactly as received (rclpy subscriptions with ``raw=True``: serialized CDR),
stamped with their receive time (system clock, ns since the epoch). Each wanted topic is
subscribed once a publisher of it is seen, with the publishers' QoS (best effort if any
publisher is best effort, so sensor-data images are not refused; transient local if all are),
and stored with that offered QoS, its type's definition and the publisher's type hash.

Parameters (read-only): ``bag`` (path to create), ``storage`` (mcap | sqlite3), ``topics``
(names, relative ones resolved in the node's namespace; default: the live graph's results and
the label topic), ``images`` ("" | raw | jpeg: also ``image_topic``, as is or JPEG-compressed by
this node into ``<image_topic>/compressed`` sensor_msgs/CompressedImage), ``jpeg_quality``,
``label`` (a class for the whole take: stored as a LabelEvent START at the first instant),
``label_topic``, ``flush_period_s`` (see the guarantee below), ``duration_s`` (0 = until stopped),
``max_bag_size`` (bytes) and ``max_bag_duration_s``: split the bag into files of at most this
size or span, like ``ros2 bag record -b/-d`` (0 = no split; see ``bags.writer``).

Guarantee: Ctrl-C (SIGINT), SIGTERM or the end of ``duration_s`` close the bag: storage index and
metadata.yaml written, nothing received before is lost. A write error (full disk, file size
limit) stops the recording with one error line and exit code 1; the bag is then closed up to the
last flush (at most ``flush_period_s`` lost, a little more if the index needs the room; see
``bags.writer``), index and metadata.yaml written. After SIGKILL
the bag opens with ``dance-recognition bag info`` / ``bag2dataset`` (they recover a file without
footer or metadata.yaml) and holds everything received up to the last flush, at most
``flush_period_s`` (default 1 s) old; ``ros2 bag reindex`` rebuilds metadata.yaml for ROS tools.
"""
from __future__ import annotations

import importlib
import sys
import time
from dataclasses import dataclass

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from dance_recognition.bags.errors import BagError
from dance_recognition.bags.labels import LABEL_EVENT_TYPE, START
from dance_recognition.bags.writer import WRITE_ERRORS, BagWriter, qos_profile
from dance_recognition.ros.node_runner import run_node
from dance_recognition.ros.parameters import declare, log_configuration

DEFAULT_TOPICS = ["skeletons", "actions", "tracked_people", "camera_info", "labels"]
IMAGE_MODES = ("", "raw", "jpeg")


def message_class(msgtype: str):
    """The rclpy message class of ``pkg/msg/Type`` (rosidl_runtime_py is not in the wheels)."""
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def matched_qos(endpoints) -> tuple[QoSProfile, bool, bool]:
    """The subscription QoS that matches every publisher in ``endpoints``, and (reliable, transient)."""
    reliable = all(e.qos_profile.reliability == ReliabilityPolicy.RELIABLE for e in endpoints)
    transient = all(e.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for e in endpoints)
    profile = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE)
    return profile, reliable, transient


@dataclass
class TopicState:
    name: str
    msgtype: str
    lost: int = 0


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder_node")
        config = {
            "bag": declare(self, "bag", "", "bag folder to create (must not exist)"),
            "storage": declare(self, "storage", "mcap", "mcap or sqlite3"),
            "topics": declare(self, "topics", DEFAULT_TOPICS, "topics to record (relative: in this namespace)"),
            "images": declare(self, "images", "", "also record image_topic: '' (no), raw, or jpeg"),
            "image_topic": declare(self, "image_topic", "image_raw", "camera images"),
            "jpeg_quality": declare(self, "jpeg_quality", 90, "JPEG quality for images=jpeg", (1, 100)),
            "label": declare(self, "label", "", "class of the whole take (a LabelEvent START at the start)"),
            "label_topic": declare(self, "label_topic", "labels", "where label events are published"),
            "flush_period_s": declare(self, "flush_period_s", 1.0, "make data durable this often", (0.05, 60.0)),
            "duration_s": declare(self, "duration_s", 0.0, "stop after this long; 0 = until stopped", (0.0, 1e7)),
            "max_bag_size": declare(self, "max_bag_size", 0, "split into files of at most this many bytes (0: no "
                                    "split)", (0, 2**62)),
            "max_bag_duration_s": declare(self, "max_bag_duration_s", 0.0,
                                          "split into files spanning at most this long (0: no split)", (0.0, 1e9)),
            "discovery_period_s": declare(self, "discovery_period_s", 0.2, "look for new publishers this often",
                                          (0.01, 10.0)),
        }
        if not config["bag"]:
            raise ValueError("parameter bag is empty: give the bag folder to create")
        if config["images"] not in IMAGE_MODES:
            raise ValueError(f"images must be '', raw or jpeg, not {config['images']!r}")
        log_configuration(self, config)
        self.config = config
        self.finished = False
        self.exit_code = 0
        self.topics: dict[str, TopicState] = {}
        # names are checked (an invalid one raises) before the bag exists: a node that cannot start
        # must not leave a half-created bag that blocks the corrected command ("exists already")
        self.wanted = {self.resolve_topic_name(t) for t in config["topics"] if t}
        self.image_topic = self.resolve_topic_name(config["image_topic"])
        if config["images"] == "raw":
            self.wanted.add(self.image_topic)
        self.label_topic = self.resolve_topic_name(config["label_topic"])
        self.writer = BagWriter(config["bag"], config["storage"], max_bytes=config["max_bag_size"],
                                max_duration_s=config["max_bag_duration_s"])
        self.started_ns = time.time_ns()
        if config["label"]:
            self._write_take_label(config["label"])
        self._jpeg_topic = f"{self.image_topic}/compressed"
        self._jpeg_pending = config["images"] == "jpeg"
        self.create_timer(config["discovery_period_s"], self._discover)
        self.create_timer(config["flush_period_s"], self._flush)
        if config["duration_s"] > 0:
            self.create_timer(config["duration_s"], self._stop)
        self._discover()
        self.get_logger().info(f"recording into {config['bag']} ({config['storage']}): {', '.join(sorted(self.wanted))}"
                               + (f" + {self._jpeg_topic} (JPEG)" if self._jpeg_pending else ""))

    def resolve_topic_name(self, name: str) -> str:
        from rclpy.expand_topic_name import expand_topic_name

        return expand_topic_name(name, self.get_name(), self.get_namespace())

    # ------------------------------------------------------------ subscriptions

    def _write_take_label(self, label: str) -> None:
        from rclpy.serialization import serialize_message

        from dance_recognition.msg import LabelEvent

        msg = LabelEvent(event=START, label=label, track_id=LabelEvent.ALL_PEOPLE)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(self.started_ns, 1_000_000_000)
        self.writer.add_topic(self.label_topic, LABEL_EVENT_TYPE, [qos_profile(reliable=True)])
        self.topics[self.label_topic] = TopicState(self.label_topic, LABEL_EVENT_TYPE)
        self.writer.write(self.label_topic, self.started_ns, serialize_message(msg))
        self._subscribe(self.label_topic, LABEL_EVENT_TYPE, QoSProfile(depth=100))

    def _discover(self) -> None:
        for name, types in self.get_topic_names_and_types():
            if name in self.topics or not types:
                continue
            if name in self.wanted or (self._jpeg_pending and name == self.image_topic):
                endpoints = self.get_publishers_info_by_topic(name)
                if not endpoints:
                    continue
                try:
                    self._start_topic(name, types[0], endpoints)
                except Exception as error:
                    self.get_logger().error(f"not recording {name} ({types[0]}): {error}")
                    self.topics[name] = TopicState(name, types[0])

    def _start_topic(self, name: str, msgtype: str, endpoints) -> None:
        profile, reliable, transient = matched_qos(endpoints)
        if self._jpeg_pending and name == self.image_topic:
            self._jpeg_pending = False
            self._start_jpeg(name, profile)
            if name not in self.wanted:
                return
        type_hash = str(endpoints[0].topic_type_hash) if getattr(endpoints[0], "topic_type_hash", None) else None
        if type_hash and not type_hash.startswith("RIHS01_"):
            type_hash = None
        try:
            if not self.writer.has_topic(name):
                self.writer.add_topic(name, msgtype, [qos_profile(reliable, transient)], type_hash=type_hash)
        except BagError as error:
            self.get_logger().error(f"not recording {name}: {error}")
            self.topics[name] = TopicState(name, msgtype)
            return
        self.topics[name] = TopicState(name, msgtype)
        self._subscribe(name, msgtype, profile)
        self.get_logger().info(f"recording {name} ({msgtype}, {'reliable' if reliable else 'best effort'})")

    def _subscribe(self, name: str, msgtype: str, profile: QoSProfile) -> None:
        from rclpy.event_handler import SubscriptionEventCallbacks

        state = self.topics[name]

        def on_lost(info) -> None:
            state.lost += int(info.total_count_change)

        def on_message(data: bytes) -> None:
            self._write(name, time.time_ns(), data)

        kwargs = {"raw": True}
        try:
            self.create_subscription(message_class(msgtype), name, on_message, profile,
                                     event_callbacks=SubscriptionEventCallbacks(message_lost=on_lost), **kwargs)
        except Exception:
            self.create_subscription(message_class(msgtype), name, on_message, profile, **kwargs)

    def _start_jpeg(self, name: str, profile: QoSProfile) -> None:
        from sensor_msgs.msg import Image

        self.writer.add_topic(self._jpeg_topic, "sensor_msgs/msg/CompressedImage", [qos_profile(reliable=False)])
        self.topics[self._jpeg_topic] = TopicState(self._jpeg_topic, "sensor_msgs/msg/CompressedImage")
        self.create_subscription(Image, name, self._on_image_for_jpeg, profile)
        self.get_logger().info(f"recording {name} as JPEG into {self._jpeg_topic}")

    def _on_image_for_jpeg(self, msg) -> None:
        from rclpy.serialization import serialize_message
        from sensor_msgs.msg import CompressedImage

        from dance_recognition.media.images import ImageConversionError, encode_jpeg
        from dance_recognition.ros.image_conversion import image_to_rgb

        received = time.time_ns()
        try:
            data = encode_jpeg(image_to_rgb(msg), self.config["jpeg_quality"])
        except ImageConversionError as error:
            self.get_logger().error(f"image not recorded: {error}", throttle_duration_sec=5.0)
            return
        compressed = CompressedImage(header=msg.header, format="jpeg", data=data)
        self._write(self._jpeg_topic, received, serialize_message(compressed))

    # ------------------------------------------------------------ writing and stopping

    def _write(self, topic: str, stamp_ns: int, data: bytes) -> None:
        if self.finished:
            return
        try:
            self.writer.write(topic, stamp_ns, data)
        except (*WRITE_ERRORS, BagError):
            self._fail()

    def _flush(self) -> None:
        if self.finished:
            return
        try:
            self.writer.flush()
        except WRITE_ERRORS:
            self._fail()

    def _fail(self) -> None:
        self.get_logger().error(f"writing {self.writer.path} failed ({self.writer.failed}): recording stopped; the bag "
                                "is closed with what was received up to the last flush (free disk space, then record "
                                "again)")
        self.exit_code = 1
        self.finished = True

    def _stop(self) -> None:
        self.finished = True

    def summary_lines(self) -> list[str]:
        duration = max(0.0, (time.time_ns() - self.started_ns) / 1e9)
        files = len(self.writer.files)
        lines = [f"bag: {self.writer.path} ({self.writer.storage}), {duration:.1f} s, {self.writer.messages} messages, "
                 f"{self.writer.bytes / 1e6:.1f} MB" + (f", split into {files} files" if files > 1 else "")]
        # rates over the bag's first..last message, as `bag info` gives them (the run time also counts
        # the wait for the publishers, which halved the rate of a short recording)
        firsts = [s.first_ns for s in self.writer.stats.values() if s.first_ns is not None]
        lasts = [s.last_ns for s in self.writer.stats.values() if s.last_ns is not None]
        span = (max(lasts) - min(firsts)) / 1e9 if firsts else 0.0
        for name, stats in sorted(self.writer.stats.items()):
            lost = self.topics[name].lost if name in self.topics else 0
            rate = stats.messages / span if span > 0 else 0.0
            lines.append(f"  {name} ({stats.msgtype}): {stats.messages} msgs, {stats.bytes / 1e6:.2f} MB, "
                         f"{rate:.1f} Hz, lost {lost}, out of order {stats.out_of_order}")
        missing = sorted(self.wanted - set(self.writer.stats))
        if missing:
            lines.append(f"  never published: {', '.join(missing)}")
        return lines

    def close(self) -> None:
        """Called by run_node on every way out: the bag is closed and the summary printed."""
        try:
            self.writer.close()
        except WRITE_ERRORS as error:
            print(f"[recorder_node] the bag could not be closed ({getattr(error, 'strerror', None) or error}); what "
                  "was flushed stays readable by `dance-recognition bag info` / `bag2dataset` (recovery)",
                  file=sys.stderr, flush=True)
            self.exit_code = 1
        for note in self.writer.notes:
            print(f"[recorder_node] {note}", file=sys.stderr, flush=True)
        print("\n".join(self.summary_lines()), flush=True)


def main(argv=None) -> int:
    created: list[RecorderNode] = []

    def factory() -> RecorderNode:
        node = RecorderNode()
        created.append(node)
        return node

    code = run_node(factory, argv)
    return (created[0].exit_code if created else 0) or code


if __name__ == "__main__":
    raise SystemExit(main())
