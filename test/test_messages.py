"""Skeleton / ActionLabel messages: conversions, NaN and missing joints, and a real round trip
between two rclpy processes."""
from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from dance_recognition.msg import ActionLabel, PersonKeypoints, Skeleton
from message_samples import JOINTS, sample_action_label, sample_pose_frame
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message

from dance_recognition.ros.skeleton_conversions import (
    SkeletonMessageError,
    msg_to_pose_frame,
    pose_frame_to_msg,
)
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

HERE = Path(__file__).resolve().parent


def assert_frames_equal(actual: PoseFrame, expected: PoseFrame) -> None:
    for name in ("layout", "joint_names", "image_width", "image_height", "stamp_ns", "frame_id", "backend"):
        assert getattr(actual, name) == getattr(expected, name), name
    assert len(actual.people) == len(expected.people)
    for got, want in zip(actual.people, expected.people, strict=True):
        assert got.track_id == want.track_id
        assert got.score == pytest.approx(want.score)
        np.testing.assert_array_equal(got.keypoints, want.keypoints)  # NaN == NaN here
        np.testing.assert_array_equal(got.bounding_box(), want.bounding_box())
        for name in ("depth", "world"):
            if getattr(want, name) is None:
                assert getattr(got, name) is None, name
            else:
                np.testing.assert_array_equal(getattr(got, name), np.where(
                    want.present if name == "depth" else want.present[:, None], getattr(want, name), np.nan))


def test_missing_joints_are_confidence_zero_and_nan() -> None:
    frame = sample_pose_frame()
    first, second = frame.people
    assert first.keypoints[3, 2] == 0 and np.isnan(first.keypoints[3, :2]).all()
    # a NaN coordinate with a positive confidence is not a detection either
    assert second.keypoints[1, 2] == 0 and np.isnan(second.keypoints[1, :2]).all()
    msg = pose_frame_to_msg(frame)
    assert msg.people[0].confidence[3] == 0.0 and math.isnan(msg.people[0].x[3])
    assert math.isnan(msg.people[0].z[3]) and math.isnan(msg.people[0].world_y[3])
    assert len(msg.people[1].z) == 0 and len(msg.people[1].world_x) == 0


def test_person_box_is_the_detector_box_or_the_detected_joints_extent() -> None:
    first, second = sample_pose_frame().people
    # joints 0, 1, 2, 4 detected: x 280..400, y 100.25..260; joint 3 is missing and ignored
    np.testing.assert_allclose(first.bounding_box(), [340.0, 180.125, 120.0, 159.75])
    np.testing.assert_array_equal(second.bounding_box(), [40.0, 50.0, 80.0, 100.0])
    msg = pose_frame_to_msg(sample_pose_frame())
    assert (msg.people[0].box_center_x, msg.people[0].box_width) == pytest.approx((340.0, 120.0))
    nobody = PersonPose(keypoints=np.zeros((5, 3), dtype=np.float32))
    assert np.isnan(nobody.bounding_box()).all()


def test_conversion_and_serialization_round_trip_keep_every_field() -> None:
    frame = sample_pose_frame()
    msg = deserialize_message(serialize_message(pose_frame_to_msg(frame)), Skeleton)
    assert list(msg.joint_names) == list(JOINTS)
    assert_frames_equal(msg_to_pose_frame(msg), frame)


def test_message_constants_document_layouts_and_unknown() -> None:
    assert Skeleton.LAYOUT_MEDIAPIPE_POSE_33 == "mediapipe_pose_33"
    assert Skeleton.LAYOUT_OPENPOSE_COCO_18 == "openpose_coco_18"
    assert PersonKeypoints.TRACK_ID_UNKNOWN == -1
    assert ActionLabel.UNKNOWN_LABEL == "unknown"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.people[0].x.pop(), r"people\[0\]\.x has 4 entries but joint_names has 5"),
        (lambda m: m.people[1].confidence.append(1.0), r"people\[1\]\.confidence has 6 entries"),
        (lambda m: setattr(m.people[0], "world_z", []), r"only some of world_x/world_y/world_z"),
        (lambda m: setattr(m, "layout", ""), r"layout is empty"),
    ],
)
def test_malformed_skeleton_is_rejected_with_the_field_named(mutate, message: str) -> None:
    msg = pose_frame_to_msg(sample_pose_frame())
    mutate(msg)
    with pytest.raises(SkeletonMessageError, match=message):
        msg_to_pose_frame(msg)


def _registered_skeleton(layout_name: str, joint_names: tuple[str, ...]) -> Skeleton:
    keypoints = np.ones((len(joint_names), 3), np.float32)
    frame = PoseFrame(layout=layout_name, joint_names=joint_names, image_width=64, image_height=48,
                      people=[PersonPose(keypoints=keypoints, track_id=1)])
    return pose_frame_to_msg(frame)


@pytest.mark.parametrize(
    ("layout_name", "joint_names", "message"),
    [
        ("openpose_coco_18", OPENPOSE_COCO_18.joint_names[:17], "layout openpose_coco_18 has 18 joints but the "
                                                                "message names 17"),
        ("mediapipe_pose_33", OPENPOSE_COCO_18.joint_names, "layout mediapipe_pose_33 has 33 joints but the "
                                                            "message names 18"),
        ("openpose_coco_18", tuple(f"j{i}" for i in range(10_000)), "has 18 joints but the message names 10000"),
        ("openpose_coco_18", ("neck", "nose", *OPENPOSE_COCO_18.joint_names[2:]),
         r"joint_names\[0\] is 'neck' but joint 0 of layout openpose_coco_18 is 'nose'"),
    ],
)
def test_skeleton_joints_must_match_its_registered_layout(layout_name: str, joint_names: tuple[str, ...],
                                                          message: str) -> None:
    with pytest.raises(SkeletonMessageError, match=message):
        msg_to_pose_frame(_registered_skeleton(layout_name, joint_names))


def test_messages_round_trip_between_two_processes() -> None:
    """A separate rclpy process publishes; this one receives every field intact."""
    publisher = subprocess.Popen([sys.executable, str(HERE / "ros_processes" / "publish_samples.py")])
    rclpy.init()
    try:
        node = rclpy.create_node("sample_receiver")
        received: dict[str, object] = {}
        qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
        subscriptions = [
            node.create_subscription(Skeleton, "skeletons", lambda m: received.setdefault("skeleton", m), qos),
            node.create_subscription(ActionLabel, "actions", lambda m: received.setdefault("action", m), qos),
        ]
        deadline = time.monotonic() + 30.0
        while len(received) < 2 and time.monotonic() < deadline and publisher.poll() is None:
            rclpy.spin_once(node, timeout_sec=0.05)
        for subscription in subscriptions:
            node.destroy_subscription(subscription)
        assert set(received) == {"skeleton", "action"}, f"received only {sorted(received)}"
        assert_frames_equal(msg_to_pose_frame(received["skeleton"]), sample_pose_frame())
        assert received["action"] == sample_action_label()
        assert publisher.wait(timeout=30) == 0
        node.destroy_node()
    finally:
        if publisher.poll() is None:
            publisher.kill()
        rclpy.try_shutdown()
