"""Skeleton message <-> PoseFrame, at the edge of the ROS graph.

Per-joint arrays cross as array.array('f') built from raw bytes: rclpy's setters take those
without a per-element Python check, which keeps a 33-joint, several-person frame well under a
millisecond.
"""
from __future__ import annotations

from array import array

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from dance_recognition.msg import PersonKeypoints, Skeleton
from dance_recognition.skeleton.pose import PersonPose, PoseFrame


class SkeletonMessageError(ValueError):
    """A Skeleton message that breaks its own documented invariants."""


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_stamp(stamp_ns: int) -> Time:
    return Time(sec=int(stamp_ns // 1_000_000_000), nanosec=int(stamp_ns % 1_000_000_000))


def _floats(values: np.ndarray) -> array:
    packed = array("f")
    packed.frombytes(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    return packed


def person_to_msg(person: PersonPose) -> PersonKeypoints:
    msg = PersonKeypoints()
    msg.track_id = int(person.track_id)
    msg.score = float(person.score)
    msg.box_center_x, msg.box_center_y, msg.box_width, msg.box_height = (float(v) for v in person.bounding_box())
    msg.x = _floats(person.keypoints[:, 0])
    msg.y = _floats(person.keypoints[:, 1])
    msg.confidence = _floats(person.keypoints[:, 2])
    if person.depth is not None:
        msg.z = _floats(np.where(person.present, person.depth, np.nan))
    if person.world is not None:
        world = np.where(person.present[:, None], person.world, np.nan)
        msg.world_x, msg.world_y, msg.world_z = (_floats(world[:, axis]) for axis in range(3))
    return msg


def pose_frame_to_msg(frame: PoseFrame) -> Skeleton:
    msg = Skeleton()
    msg.header = Header(stamp=ns_to_stamp(frame.stamp_ns), frame_id=frame.frame_id)
    msg.image_width = int(frame.image_width)
    msg.image_height = int(frame.image_height)
    msg.layout = frame.layout
    msg.joint_names = list(frame.joint_names)
    msg.backend = frame.backend
    msg.people = [person_to_msg(person) for person in frame.people]
    return msg


def _joint_array(msg_field: array, name: str, person: int, num_joints: int, optional: bool) -> np.ndarray | None:
    values = np.frombuffer(msg_field, dtype=np.float32) if len(msg_field) else np.empty(0, np.float32)
    if optional and values.size == 0:
        return None
    if values.size != num_joints:
        raise SkeletonMessageError(
            f"people[{person}].{name} has {values.size} entries but joint_names has {num_joints}; "
            "every per-joint array must have one entry per joint name"
        )
    return values


def msg_to_pose_frame(msg: Skeleton) -> PoseFrame:
    """Convert and validate; raises SkeletonMessageError naming the broken field."""
    num_joints = len(msg.joint_names)
    if not msg.layout:
        raise SkeletonMessageError("Skeleton.layout is empty; the publisher must name its keypoint layout")
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
