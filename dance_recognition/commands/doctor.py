"""`dance-recognition doctor`: check the installation end to end."""
from __future__ import annotations

import argparse
import importlib
import os
import time

from dance_recognition.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("doctor", help="check the installation end to end")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for DDS (default 10)")
    parser.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    """Check the installation end to end: imports, messages, profile, and a DDS loopback."""
    from dance_recognition.ros.dds_profile import environment_with_profile

    for name in ("rclpy", "numpy", "torch", "cv2", "mediapipe", "rosbags"):
        try:
            module = importlib.import_module(name)
        except ImportError as error:
            raise UserError(f"cannot import {name} ({error}); run scripts/setup.sh") from error
        print(f"  {name:<10} {getattr(module, '__version__', 'ok')}")
    import torch

    print(f"  torch device: {'cuda (' + torch.cuda.get_device_name(0) + ')' if torch.cuda.is_available() else 'cpu'}")
    joints, milliseconds = _pose_check()
    print(f"  MediaPipe pose on a sample photo: {joints}/33 joints found in {milliseconds:.0f} ms")
    os.environ.update(environment_with_profile())
    print(f"  Fast DDS profile: {os.environ['FASTDDS_DEFAULT_PROFILES_FILE']}")
    latency_ms = _skeleton_loopback(timeout_s=args.timeout)
    print(f"  Skeleton message loopback through DDS: {latency_ms:.1f} ms")
    print("doctor: everything works")
    return 0


def _pose_check() -> tuple[int, float]:
    """Run the default pose backend on a photo shipped with matplotlib (no download needed)."""
    from pathlib import Path

    import cv2
    import matplotlib

    from dance_recognition.pose import PoseBackendError, create_estimator

    image = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    if image is None:
        raise UserError("matplotlib's sample photo is missing; reinstall matplotlib")
    try:
        with create_estimator("mediapipe", video=False) as estimator:
            start = time.perf_counter()
            frame = estimator.estimate(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            elapsed = (time.perf_counter() - start) * 1000.0
    except PoseBackendError as error:
        raise UserError(str(error)) from error
    if not frame.people:
        raise UserError("MediaPipe found nobody in the sample photo; the pose engine is not working")
    return int(frame.people[0].present.sum()), elapsed


def _skeleton_loopback(timeout_s: float) -> float:
    """Publish one Skeleton and receive it in the same process; returns the latency in ms."""
    import rclpy
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy

    try:
        from dance_recognition.msg import Skeleton
    except ImportError as error:
        raise UserError(f"messages not built ({error}); run scripts/setup.sh or colcon build") from error
    rclpy.init(args=[])
    try:
        node = rclpy.create_node("dance_recognition_doctor")
        qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE)
        received: list[float] = []
        node.create_subscription(Skeleton, "doctor/skeleton", lambda _msg: received.append(time.perf_counter()), qos)
        publisher = node.create_publisher(Skeleton, "doctor/skeleton", qos)
        deadline = time.monotonic() + timeout_s
        while publisher.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                raise UserError("the DDS loopback never matched; check ROS_DOMAIN_ID and the Fast DDS profile")
            rclpy.spin_once(node, timeout_sec=0.01)
        sent = time.perf_counter()
        publisher.publish(Skeleton(layout="doctor", joint_names=["a"]))
        while not received:
            if time.monotonic() > deadline:
                raise UserError("published a Skeleton but never received it; check the Fast DDS profile")
            rclpy.spin_once(node, timeout_sec=0.01)
        node.destroy_node()
        return (received[0] - sent) * 1000.0
    finally:
        rclpy.try_shutdown()


