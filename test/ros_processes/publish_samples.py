"""Separate process: publish the sample Skeleton and ActionLabel once a subscriber matches.

Exits 0 after every subscriber has gone (so the data was taken), 2 when nobody subscribed in time.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dance_recognition.msg import ActionLabel, Skeleton
from message_samples import sample_action_label, sample_pose_frame

from dance_recognition.ros.skeleton_conversions import pose_frame_to_msg

TIMEOUT_S = 20.0


def main() -> int:
    rclpy.init()
    node = rclpy.create_node("sample_publisher")
    qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE)
    publishers = [(node.create_publisher(Skeleton, "skeletons", qos), pose_frame_to_msg(sample_pose_frame())),
                  (node.create_publisher(ActionLabel, "actions", qos), sample_action_label())]
    deadline = time.monotonic() + TIMEOUT_S
    while any(pub.get_subscription_count() == 0 for pub, _ in publishers):
        if time.monotonic() > deadline:
            return 2
        rclpy.spin_once(node, timeout_sec=0.02)
    for pub, msg in publishers:
        pub.publish(msg)
    while any(pub.get_subscription_count() > 0 for pub, _ in publishers) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.02)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
