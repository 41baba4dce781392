"""MediaPipe Pose (BlazePose, 33 landmarks) through the legacy ``mediapipe.solutions.pose`` API.

Why the legacy API: mediapipe 0.10.14 ships the full landmark model inside the wheel and runs
offline; the Tasks API needs a ``.task`` bundle that no package ships. Its limit: it follows ONE
person (the most prominent); tracking ids are therefore always 0 while a person is in view.

Coordinates: MediaPipe's normalised x, y are scaled to pixels; ``z`` (same scale as x, relative
to the hips) becomes the depth, and the world landmarks (metres, origin between the hips) are
passed through. A landmark's ``visibility`` is its confidence; below ``min_joint_confidence`` it
is reported missing.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from dance_recognition.pose.base import PoseBackendError, PoseEstimator, check_image
from dance_recognition.skeleton.layouts import MEDIAPIPE_POSE_33
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

COMPLEXITIES = {"lite": 0, "full": 1, "heavy": 2}
MODEL_FILES = {"lite": "pose_landmark_lite.tflite", "full": "pose_landmark_full.tflite",
               "heavy": "pose_landmark_heavy.tflite"}


def _model_dir() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules" / "pose_landmark"


def model_file(model: str) -> Path:
    """The landmark model file for ``model`` or a PoseBackendError saying how to get it."""
    if model not in COMPLEXITIES:
        raise PoseBackendError(f"unknown MediaPipe model {model!r}; choose one of {', '.join(COMPLEXITIES)}")
    path = _model_dir() / MODEL_FILES[model]
    if not path.is_file():
        raise PoseBackendError(
            f"MediaPipe {model} model file {path} is missing: the mediapipe wheel ships only the full model. "
            "Online, MediaPipe downloads it on first use; offline, copy pose_landmark_lite.tflite / "
            "pose_landmark_heavy.tflite from the npm package @mediapipe/pose@0.5.1675469404 into "
            f"{path.parent}, or use model 'full'"
        )
    return path


@contextlib.contextmanager
def native_start_up_log() -> Iterator[None]:
    """Hold back what MediaPipe's C++ side prints to stderr while its graph starts (TFLite delegate
    and "feedback manager" notices, written before absl logging is configured, so GLOG settings
    cannot silence them). The text is replayed if starting fails, so no error is lost."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreter): nothing to hide
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                captured.seek(0)
                sys.stderr.write(captured.read().decode(errors="replace"))


def output_layout(**options: object) -> str:
    return MEDIAPIPE_POSE_33.name


class MediaPipePose(PoseEstimator):
    """``video=True`` tracks across frames (about 1.7x faster); ``video=False`` treats every
    image on its own (stills, shuffled frames)."""

    layout = MEDIAPIPE_POSE_33

    def __init__(self, model: str = "full", video: bool = True, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, min_joint_confidence: float = 0.05) -> None:
        model_file(model)
        # MediaPipe's C++ side logs every graph start at INFO/WARNING level to stderr; keep errors only
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as error:
            raise PoseBackendError(f"mediapipe is not importable ({error}); install mediapipe==0.10.14") from error
        self.name = f"mediapipe/{model}"
        self.min_joint_confidence = float(min_joint_confidence)
        # protobuf 4 deprecation notice raised inside mediapipe on every result; not ours to fix
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
        self._started = False
        self._pose = mp_pose.Pose(
            static_image_mode=not video, model_complexity=COMPLEXITIES[model], smooth_landmarks=video,
            min_detection_confidence=min_detection_confidence, min_tracking_confidence=min_tracking_confidence,
        )

    def estimate(self, image_rgb: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> PoseFrame:
        width, height = check_image(image_rgb)
        if self._pose is None:
            raise PoseBackendError("this MediaPipe estimator was closed")
        if self._started:
            results = self._pose.process(np.ascontiguousarray(image_rgb))
        else:
            with native_start_up_log():  # the graph starts on the first image
                results = self._pose.process(np.ascontiguousarray(image_rgb))
            self._started = True
        people = []
        if results.pose_landmarks is not None:
            landmarks = np.array([(lm.x, lm.y, lm.z, lm.visibility) for lm in results.pose_landmarks.landmark],
                                 dtype=np.float32)
            confidence = np.where(landmarks[:, 3] >= self.min_joint_confidence, landmarks[:, 3], 0.0)
            keypoints = np.stack([landmarks[:, 0] * width, landmarks[:, 1] * height, confidence], axis=1)
            world = None
            if results.pose_world_landmarks is not None:
                world = np.array([(lm.x, lm.y, lm.z) for lm in results.pose_world_landmarks.landmark], np.float32)
            people.append(PersonPose(keypoints=keypoints, track_id=0, score=float(np.mean(landmarks[:, 3])),
                                     depth=landmarks[:, 2] * width, world=world))
        return PoseFrame(layout=self.layout.name, joint_names=self.layout.joint_names, image_width=width,
                         image_height=height, people=people, stamp_ns=stamp_ns, frame_id=frame_id,
                         backend=self.name)

    def reset(self) -> None:
        """Forget the tracked person (call between unrelated videos)."""
        if self._pose is not None:
            with native_start_up_log():  # resetting restarts the graph
                self._pose.reset()
            self._started = False

    def close(self) -> None:
        if self._pose is not None:
            with native_start_up_log():
                self._pose.close()
            self._pose = None
