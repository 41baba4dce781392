"""Deterministic sample messages shared by a publishing process and the receiving test."""
from __future__ import annotations

import math

import numpy as np

from dance_recognition.skeleton.pose import PersonPose, PoseFrame

JOINTS = ("nose", "left_shoulder", "right_shoulder", "left_wrist", "right_wrist")
STAMP_NS = 1_764_000_000_123_456_789


def sample_pose_frame() -> PoseFrame:
    """Two people: one with depth and world points and a missing joint, one given NaN input."""
    first = PersonPose(
        keypoints=np.array(
            [[320.5, 100.25, 0.99], [280.0, 180.0, 0.9], [360.0, 181.0, 0.8], [0.0, 0.0, 0.0], [400.0, 260.0, 0.5]],
            dtype=np.float32,
        ),
        track_id=7,
        score=0.95,
        depth=np.array([-0.5, -0.2, -0.21, 0.0, 0.1], dtype=np.float32),
        world=np.arange(15, dtype=np.float32).reshape(5, 3) / 10.0,
    )
    second = PersonPose(
        keypoints=np.array(
            [[10.0, 20.0, 0.7], [math.nan, 5.0, 0.9], [30.0, 40.0, 0.6], [50.0, 60.0, 0.4], [70.0, 80.0, 0.3]],
            dtype=np.float32,
        ),
        track_id=8,
        score=0.5,
        box=np.array([40.0, 50.0, 80.0, 100.0], dtype=np.float32),  # a detector box, wider than the joints
    )
    return PoseFrame(
        layout="test_layout_5",
        joint_names=JOINTS,
        image_width=640,
        image_height=480,
        people=[first, second],
        stamp_ns=STAMP_NS,
        frame_id="camera_optical_frame",
        backend="test/handmade",
    )


def sample_action_label():
    from builtin_interfaces.msg import Time
    from dance_recognition.msg import ActionLabel
    from std_msgs.msg import Header

    return ActionLabel(
        header=Header(stamp=Time(sec=1_764_000_000, nanosec=123_456_789), frame_id="camera_optical_frame"),
        track_id=7,
        label="twirl",
        confidence=0.875,
        top_k_labels=["twirl", "step", ActionLabel.UNKNOWN_LABEL],
        top_k_scores=[0.875, 0.125, 0.0],
        window_start=Time(sec=1_763_999_998, nanosec=5),
        num_frames=64,
        box_center_x=320.0,
        box_center_y=200.5,
        box_width=120.0,
        box_height=300.0,
        image_width=640,
        image_height=480,
        model_id="stgcn-test@0123abcd",
    )
