"""``bag play`` on ROS: publishes a bag's serialized messages with their original timing.

Publishers are created per played topic with the QoS the bag recorded as offered (reliability
and durability; depth 100), and publish the stored CDR bytes untouched (rclpy publishes
``bytes`` as a serialized message). With ``clock_hz`` > 0, ``/clock`` carries the bag time being
played, so nodes started with ``use_sim_time:=true`` run on the recording's time.

Stopping: rclpy's own SIGINT/SIGTERM handlers only shut the context down (no KeyboardInterrupt
reaches Python), and playback waits between messages without spinning; so every wait is cut
into short sleeps that check the context, and a signal ends playback within about 50 ms, also in
the middle of a long gap in the bag.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field

import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from dance_recognition.bags.playback import PlaybackClock, timed_messages
from dance_recognition.bags.reader import Bag
from dance_recognition.ros.graph import GRAPH_SETTLE_S


def message_class(msgtype: str):
    package, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


def recorded_qos(qos_list) -> QoSProfile:
    """Reliable unless the recorded publisher was best effort; transient local if it was."""
    best_effort = any(q.reliability.name == "BEST_EFFORT" for q in qos_list)
    transient = bool(qos_list) and all(q.durability.name == "TRANSIENT_LOCAL" for q in qos_list)
    return QoSProfile(depth=100,
                      reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE)


@dataclass
class PlayResult:
    published: dict[str, int] = field(default_factory=dict)
    passes: int = 0


class BagPlayer:
    def __init__(self, node: Node, bag: Bag, topics: list[str], remaps: dict[str, str], rate: float = 1.0,
                 start_offset_s: float = 0.0, clock_hz: float = 0.0) -> None:
        self.node, self.bag, self.topics, self.rate = node, bag, topics, rate
        self.publishers = {}
        for topic in topics:
            info = bag.topics[topic]
            self.publishers[topic] = node.create_publisher(message_class(info.msgtype), remaps.get(topic, topic),
                                                           recorded_qos(info.qos))
        self.clock_publisher = None
        if clock_hz > 0:
            from rosgraph_msgs.msg import Clock

            self.clock_publisher = node.create_publisher(Clock, "/clock", QoSProfile(depth=10))
            self.clock_period = 1.0 / clock_hz
        start = bag.start_ns or 0
        self.clock = PlaybackClock(start + round(start_offset_s * 1e9), rate)

    @property
    def stopped(self) -> bool:
        """SIGINT/SIGTERM arrived (rclpy shut the context down)."""
        return not self.node.context.ok()

    def wait_for_subscribers(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while any(p.get_subscription_count() == 0 for p in self.publishers.values()):
            if time.monotonic() > deadline or self.stopped:
                return False
            rclpy.spin_once(self.node, timeout_sec=0.05)
        settled = time.monotonic() + GRAPH_SETTLE_S
        while time.monotonic() < settled and not self.stopped:
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return True

    def _publish_clock(self) -> None:
        from rosgraph_msgs.msg import Clock

        stamp = self.clock.bag_time_ns
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(stamp, 1_000_000_000)
        self.clock_publisher.publish(msg)

    def play_once(self, result: PlayResult) -> bool:
        """One pass over the bag; False when a signal stopped it."""
        self.clock.start()
        next_clock = time.monotonic()
        for due, message in timed_messages(self.bag, self.topics, self.clock):
            while True:
                if self.stopped:
                    return False
                now = time.monotonic()
                if self.clock_publisher is not None and now >= next_clock:
                    self._publish_clock()
                    next_clock = now + self.clock_period
                wait = min(due, next_clock if self.clock_publisher is not None else due) - now
                if wait <= 0 and now >= due:
                    break
                time.sleep(max(0.0, min(wait, 0.05)))
            self.publishers[message.topic].publish(message.data)
            result.published[message.topic] = result.published.get(message.topic, 0) + 1
        result.passes += 1
        return not self.stopped
