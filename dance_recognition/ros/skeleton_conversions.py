"""Skeleton message <-> PoseFrame, at the edge of the ROS graph.

Reading a message (any object with the Skeleton fields: an rclpy message or one decoded from a
bag) lives in the ROS-free ``dance_recognition.skeleton.messages``; building one needs rclpy's
message classes and lives here.

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
from dance_recognition.skeleton.messages import SkeletonMessageError, msg_to_pose_frame, stamp_to_ns
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

__all__ = ["SkeletonMessageError", "msg_to_pose_frame", "ns_to_stamp", "pose_frame_to_msg", "stamp_to_ns"]


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
