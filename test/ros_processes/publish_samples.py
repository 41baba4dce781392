"""Separate process: publish the sample Skeleton and ActionLabel once a subscriber matches.

Exits 0 after every subscriber has gone (so the data was taken), 2 when nobody subscribed in time.
"""
from __future__ import annotations

import sys
from pathlib import Path

import rclpy
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dance_recognition.msg import ActionLabel, Skeleton
from matching import linger_until_unsubscribed, wait_for_subscribers
from message_samples import sample_action_label, sample_pose_frame

from dance_recognition.ros.skeleton_conversions import pose_frame_to_msg

TIMEOUT_S = 20.0


def main() -> int:
    rclpy.init()
    node = rclpy.create_node("sample_publisher")
    qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.VOLATILE)
    publishers = [(node.create_publisher(Skeleton, "skeletons", qos), pose_frame_to_msg(sample_pose_frame())),
                  (node.create_publisher(ActionLabel, "actions", qos), sample_action_label())]
    if not wait_for_subscribers(node, [pub for pub, _ in publishers], TIMEOUT_S):
        return 2
    for pub, msg in publishers:
        pub.publish(msg)
    linger_until_unsubscribed(node, [pub for pub, _ in publishers], TIMEOUT_S)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
