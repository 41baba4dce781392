"""Publishing LabelEvent messages (the labeller's keys, or any script) on the label topic.

Events are stamped with the node's clock (ROS time under ``use_sim_time``), the clock the camera
stamps its images with, so a segment covers the skeleton frames captured while it was active.
The publisher is reliable and transient-local (history 100): a recorder started after the
first key press still receives the events of this session.
"""
from __future__ import annotations

import time

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from dance_recognition.msg import LabelEvent

LABEL_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class LabelPublisher:
    """``start(label)`` / ``stop(label)`` from any rclpy node: the scripting interface."""

    def __init__(self, node: Node, topic: str = "labels", track_id: int = LabelEvent.ALL_PEOPLE) -> None:
        self.node, self.track_id = node, track_id
        self.publisher = node.create_publisher(LabelEvent, topic, LABEL_QOS)

    def publish(self, event: int, label: str, track_id: int | None = None) -> LabelEvent:
        msg = LabelEvent(event=event, label=label, track_id=self.track_id if track_id is None else track_id)
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(msg)
        return msg

    def start(self, label: str, track_id: int | None = None) -> LabelEvent:
        return self.publish(LabelEvent.START, label, track_id)

    def stop(self, label: str = "", track_id: int | None = None) -> LabelEvent:
        return self.publish(LabelEvent.STOP, label, track_id)

    def wait_for_subscribers(self, timeout_s: float) -> bool:
        """Spins the node until a subscriber (a recorder) matches; False on time-out."""
        import rclpy

        deadline = time.monotonic() + timeout_s
        while self.publisher.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                return False
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return True

    def wait_delivered(self, timeout_s: float) -> bool:
        """Every published event acknowledged by the matched subscribers (reliable QoS)."""
        from rclpy.duration import Duration

        return self.publisher.wait_for_all_acked(Duration(seconds=timeout_s))
