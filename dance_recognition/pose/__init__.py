"""Pose estimation backends behind one interface, chosen by name (no ROS).

Nodes and tools call ``create_estimator(name, **options)`` and never import a backend module:
backends pull in heavy engines (MediaPipe, OpenPose) only when chosen.
"""
from dance_recognition.pose.base import (
    BACKENDS,
    PoseBackendError,
    PoseEstimator,
    backend_layout,
    backend_options,
    create_estimator,
)

__all__ = ["BACKENDS", "PoseBackendError", "PoseEstimator", "backend_layout", "backend_options", "create_estimator"]
