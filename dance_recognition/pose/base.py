"""The pose-estimator interface and the registry of backends.

Every backend reports on one convention (skeleton.pose): pixels of the input image, a confidence
per joint, missing joints as confidence 0 with NaN positions, in a named layout.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.skeleton.layouts import Layout
from dance_recognition.skeleton.pose import PoseFrame


class PoseBackendError(DanceRecognitionError, RuntimeError):
    """A backend cannot run as configured (missing engine or model files); says how to fix it."""


class PoseEstimator(ABC):
    """Image in, the people's keypoints out. Every backend derives from this one class, so every
    caller can rely on ``reset``, ``close`` and ``with`` without probing for them."""

    name: str  # e.g. "mediapipe/full"
    layout: Layout

    @abstractmethod
    def estimate(self, image_rgb: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> PoseFrame:
        """``image_rgb``: (H, W, 3) uint8 RGB. Returns every person seen (maybe none)."""

    def reset(self) -> None:  # noqa: B027 (a stateless backend has nothing to forget)
        """Forget what was learnt from earlier frames (before an unrelated video)."""

    def close(self) -> None:  # noqa: B027 (a backend without an engine to release)
        """Release the engine; the estimator is unusable afterwards. Safe to call twice."""

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# name -> "module:factory"; imported on first use only
BACKENDS: dict[str, str] = {
    "mediapipe": "dance_recognition.pose.mediapipe_backend:MediaPipePose",
    "openpose": "dance_recognition.pose.openpose_backend:OpenPose",
}


def create_estimator(name: str, **options: Any) -> PoseEstimator:
    try:
        target = BACKENDS[name]
    except KeyError:
        raise PoseBackendError(f"unknown pose backend {name!r}; available: {', '.join(sorted(BACKENDS))}") from None
    module_name, factory_name = target.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    return factory(**options)


def backend_options(backend: str, model: str = "", prototxt: str = "", caffemodel: str = "",
                    model_folder: str = "", device: str = "", num_poses: int = 0) -> dict[str, str | int]:
    """``create_estimator`` options from flat settings (CLI flags, node parameters); empty or 0 =
    default. The OpenPose file settings and the device only mean something to the openpose backend,
    ``num_poses`` (most people per image) to mediapipe (OpenPose reports everyone it finds)."""
    options: dict[str, str | int] = {"model": model} if model else {}
    if backend == "mediapipe" and num_poses:
        options["num_poses"] = int(num_poses)
    if backend == "openpose":
        for key, value in (("prototxt", prototxt), ("caffemodel", caffemodel), ("model_folder", model_folder)):
            if value:
                options[key] = str(value)
        if prototxt and device:
            options["device"] = device  # the OpenCV engine's; pyopenpose chooses its own
    return options


def backend_layout(name: str, **options: Any) -> str:
    """The layout a backend reports with these options, without starting its engine."""
    if name not in BACKENDS:
        raise PoseBackendError(f"unknown pose backend {name!r}; available: {', '.join(sorted(BACKENDS))}")
    module = importlib.import_module(BACKENDS[name].split(":")[0])
    return module.output_layout(**options)


def check_image(image: np.ndarray) -> tuple[int, int]:
    """(width, height) of a valid RGB uint8 image, else ValueError naming the problem."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected an (H, W, 3) RGB image, got {type(image).__name__} with shape {shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"empty image of shape {image.shape}")
    return int(image.shape[1]), int(image.shape[0])
