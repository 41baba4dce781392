"""Waiting on DDS matching in the helper processes: never a blind sleep."""
from __future__ import annotations

import time
from collections.abc import Sequence

import rclpy
from rclpy.node import Node
from rclpy.publisher import Publisher


def wait_for_subscribers(node: Node, publishers: Sequence[Publisher], timeout_s: float) -> bool:
    """Spin until every publisher has a subscriber; False on time-out."""
    deadline = time.monotonic() + timeout_s
    while any(pub.get_subscription_count() == 0 for pub in publishers):
        if time.monotonic() > deadline:
            return False
        rclpy.spin_once(node, timeout_sec=0.02)
    return True


def linger_until_unsubscribed(node: Node, publishers: Sequence[Publisher], timeout_s: float) -> None:
    """Keep the writers alive until the readers have left (so they took the data), then shut down."""
    deadline = time.monotonic() + timeout_s
    while any(pub.get_subscription_count() > 0 for pub in publishers) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.02)
    node.destroy_node()
    rclpy.try_shutdown()
