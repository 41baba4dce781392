"""Separate process: publish N 640x480 rgb8 images at 30 Hz with sensor-data (best-effort) QoS.

Usage: publish_images.py COUNT. Waits for a subscriber, publishes, then lingers until it leaves.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import rclpy
from matching import linger_until_unsubscribed, wait_for_subscribers
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image


def main() -> int:
    count = int(sys.argv[1])
    rclpy.init()
    node = rclpy.create_node("image_publisher")
    publisher = node.create_publisher(Image, "image_raw", qos_profile_sensor_data)
    if not wait_for_subscribers(node, [publisher], timeout_s=20.0):
        return 2
    pixels = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8).tobytes()
    for index in range(count):
        msg = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=pixels)
        msg.header.frame_id = str(index)
        publisher.publish(msg)
        time.sleep(1 / 30)
    linger_until_unsubscribed(node, [publisher], timeout_s=10.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
