"""The package's Fast DDS profile: found, applied by default, and carrying camera images."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from dance_recognition.ros.dds_profile import PROFILE_ENV, default_profile_path, environment_with_profile

HERE = Path(__file__).resolve().parent


def test_profile_has_a_shared_memory_segment_larger_than_an_image() -> None:
    root = ET.parse(default_profile_path()).getroot()
    sizes = [int(e.text) for e in root.iter("{http://www.eprosima.com}segment_size")]
    assert sizes and min(sizes) >= 4 * 640 * 480 * 3


def test_user_profile_wins_and_default_is_filled_in() -> None:
    assert environment_with_profile({PROFILE_ENV: "/robot/profile.xml"})[PROFILE_ENV] == "/robot/profile.xml"
    assert environment_with_profile({})[PROFILE_ENV] == str(default_profile_path())


def test_best_effort_images_arrive_between_processes_with_the_profile() -> None:
    """With Fast DDS's default 512 KB segment almost every best-effort 640x480 image is lost
    (1-11 of 150 measured); with the profile nearly all arrive. 80% separates the two cases
    with a wide margin on a loaded machine."""
    assert os.environ[PROFILE_ENV] == str(default_profile_path())  # set by conftest, as launchers do
    count = 60
    publisher = subprocess.Popen([sys.executable, str(HERE / "ros_processes" / "publish_images.py"), str(count)])
    rclpy.init()
    try:
        node = rclpy.create_node("image_receiver")
        frames: set[str] = set()
        subscription = node.create_subscription(
            Image, "image_raw", lambda m: frames.add(m.header.frame_id), qos_profile_sensor_data
        )
        deadline = time.monotonic() + 40.0
        while publisher.poll() is None and time.monotonic() < deadline and len(frames) < count:
            rclpy.spin_once(node, timeout_sec=0.05)
            if str(count - 1) in frames:
                break
        node.destroy_subscription(subscription)
        assert publisher.wait(timeout=30) == 0
        assert len(frames) >= 0.8 * count, f"only {len(frames)}/{count} images arrived"
        node.destroy_node()
    finally:
        if publisher.poll() is None:
            publisher.kill()
        rclpy.try_shutdown()
