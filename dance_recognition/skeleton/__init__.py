"""Skeletons as numpy arrays: per-frame poses, keypoint layouts and their graphs (no ROS)."""
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

__all__ = ["PersonPose", "PoseFrame"]
