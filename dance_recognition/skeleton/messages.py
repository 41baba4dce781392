"""Skeleton messages -> PoseFrame, without ROS: validation of the message's documented invariants.

Works on any object with the fields of ``dance_recognition/msg/Skeleton``: an rclpy message in a
node, or a message decoded from a bag by the rosbags typestore (arrays as numpy). Building
messages needs rclpy's classes and lives in ``dance_recognition.ros.skeleton_conversions``.
"""
from __future__ import annotations

import numpy as np

from dance_recognition.skeleton.layouts import LAYOUTS
from dance_recognition.skeleton.pose import PersonPose, PoseFrame


class SkeletonMessageError(ValueError):
    """A Skeleton message that breaks its own documented invariants."""


def stamp_to_ns(stamp) -> int:
    """builtin_interfaces/Time (``sec``, ``nanosec``) -> nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _joint_array(msg_field, name: str, person: int, num_joints: int, optional: bool) -> np.ndarray | None:
    values = np.frombuffer(msg_field, dtype=np.float32) if len(msg_field) else np.empty(0, np.float32)
    if optional and values.size == 0:
        return None
    if values.size != num_joints:
        raise SkeletonMessageError(
            f"people[{person}].{name} has {values.size} entries but joint_names has {num_joints}; "
            "every per-joint array must have one entry per joint name"
        )
    return values


def check_joint_names(layout_name: str, joint_names: list[str]) -> None:
    """A registered layout fixes its joints: the message must name exactly those, in order (a
    Skeleton that claims ``openpose_coco_18`` with 17 joints would otherwise reach the model)."""
    layout = LAYOUTS.get(layout_name)
    if layout is None:
        return  # a layout this process does not know: consumers that need one reject it themselves
    if len(joint_names) != layout.num_joints:
        raise SkeletonMessageError(
            f"layout {layout_name} has {layout.num_joints} joints but the message names {len(joint_names)}; "
            "the publisher must send the layout's joints in its order")
    if tuple(joint_names) != layout.joint_names:
        index = next(i for i, (a, b) in enumerate(zip(joint_names, layout.joint_names, strict=True)) if a != b)
        raise SkeletonMessageError(
            f"joint_names[{index}] is {joint_names[index]!r} but joint {index} of layout {layout_name} is "
            f"{layout.joint_names[index]!r}; the publisher must send the layout's joints in its order")


def msg_to_pose_frame(msg) -> PoseFrame:
    """Convert and validate; raises SkeletonMessageError naming the broken field."""
    num_joints = len(msg.joint_names)
    if not msg.layout:
        raise SkeletonMessageError("Skeleton.layout is empty; the publisher must name its keypoint layout")
    check_joint_names(msg.layout, [str(name) for name in msg.joint_names])
    people = []
    for index, person in enumerate(msg.people):
        x = _joint_array(person.x, "x", index, num_joints, optional=False)
        y = _joint_array(person.y, "y", index, num_joints, optional=False)
        confidence = _joint_array(person.confidence, "confidence", index, num_joints, optional=False)
        depth = _joint_array(person.z, "z", index, num_joints, optional=True)
        world_axes = [
            _joint_array(getattr(person, f"world_{axis}"), f"world_{axis}", index, num_joints, optional=True)
            for axis in "xyz"
        ]
        if any(axis is None for axis in world_axes) and not all(axis is None for axis in world_axes):
            raise SkeletonMessageError(
                f"people[{index}] has only some of world_x/world_y/world_z; fill all three or none"
            )
        world = None if world_axes[0] is None else np.stack(world_axes, axis=1)
        people.append(
            PersonPose(
                keypoints=np.stack([x, y, confidence], axis=1),
                track_id=int(person.track_id),
                score=float(person.score),
                depth=depth,
                world=world,
                box=np.array([person.box_center_x, person.box_center_y, person.box_width, person.box_height]),
            )
        )
    return PoseFrame(
        layout=msg.layout,
        joint_names=tuple(msg.joint_names),
        image_width=int(msg.image_width),
        image_height=int(msg.image_height),
        people=people,
        stamp_ns=stamp_to_ns(msg.header.stamp),
        frame_id=msg.header.frame_id,
        backend=msg.backend,
    )
