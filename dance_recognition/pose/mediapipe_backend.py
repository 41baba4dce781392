"""MediaPipe Pose (BlazePose, 33 landmarks) for every person in view, through the Tasks API.

The ``PoseLandmarker`` runs from a ``.task`` bundle built offline from the wheel's own model files
(``pose.mediapipe_bundle``). Finding people, two modes combined:

- VIDEO (tracking) mode every frame: the landmarks of a person seed the next frame's search, so a
  person is kept through motion blur, and its detector looks for more people while fewer than
  ``num_poses`` are tracked. Its limit: a detection overlapping a tracked person is discarded, so a
  partner standing close to (touching) a tracked dancer is never picked up.
- IMAGE mode with ``redetect_confidence`` (0.3) every ``redetect_every`` frames: a fresh detection of
  the whole image, which does find people standing close. Its people that the tracking pass did not
  already report are added to the frame, and while it keeps finding such people it runs on every
  frame (the tracking pass never takes them over when they stand close).

A newcomer that the tracking detector can see is therefore reported at once; one hidden from it by
a tracked person is reported at the latest on the next fresh detection, i.e. unseen for at most
``redetect_every - 1`` frames, and from then on in every frame. ``redetect_every=1`` looks at every
frame in both modes; ``0`` disables fresh detections. ``video=False`` treats every image on its own
(stills, shuffled frames). Several reports of one body are merged (``same_person``).

Coordinates: normalised x, y scaled to pixels; ``z`` (same scale as x, relative to the hips)
becomes the depth; world landmarks (metres, origin between the hips) are passed through. A
landmark's ``visibility`` is its confidence; below ``min_joint_confidence`` it is reported missing.
Track ids are left to the caller's tracker (the Tasks API gives none); no detector box is exposed
by the Tasks API, so boxes are the joints' extent.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

import numpy as np

from dance_recognition.pose.base import PoseBackendError, PoseEstimator, check_image
from dance_recognition.pose.mediapipe_bundle import MODELS, pose_bundle
from dance_recognition.skeleton.layouts import MEDIAPIPE_POSE_33
from dance_recognition.skeleton.pose import PersonPose, PoseFrame
from dance_recognition.skeleton.tracking import person_size

# Two reports of one body (tracking pass and fresh detection, or a repeat inside one pass): measured
# on the demo video, repeats differ by 0.00-0.14 person sizes (median over joints), distinct people
# standing apart by 1.6-2.1; low-confidence "ghost" skeletons laid over a backlit person overlap its
# joint box by IoU 0.55-0.98 or are fragments (0.4-0.5 of its size) inside it. Partners standing
# side by side overlap far less. Limitation: two people in a face-to-face hold seen from the side
# (boxes overlapping > 0.6) are reported as one.
SAME_PERSON_DISTANCE = 0.25
SAME_PERSON_IOU = 0.6
FRAGMENT_INSIDE = 0.8  # share of the smaller box inside the larger
FRAGMENT_AREA = 0.6  # smaller box area / larger box area
_FRAME_MS = 33
_MIRROR = np.array(MEDIAPIPE_POSE_33.mirror_permutation())  # VIDEO-mode step when the caller gives no time stamps


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


def _check_options(model: str, num_poses: int, redetect_every: int, confidences: dict[str, float]) -> None:
    if model not in MODELS:
        raise PoseBackendError(f"unknown MediaPipe model {model!r}; choose one of {', '.join(MODELS)}")
    if not 1 <= num_poses <= 20:
        raise PoseBackendError(f"num_poses must be between 1 and 20, got {num_poses}")
    if redetect_every < 0:
        raise PoseBackendError(f"redetect_every must be 0 (off) or a number of frames, got {redetect_every}")
    for name, value in confidences.items():
        if not 0.0 <= value <= 1.0:
            raise PoseBackendError(f"{name} must be between 0 and 1, got {value}")


def same_person(a: PersonPose, b: PersonPose) -> bool:
    """Whether two reports show one body: a repeat (half the joints within ``SAME_PERSON_DISTANCE``
    person sizes), a ghost laid over it (joint boxes overlapping by more than ``SAME_PERSON_IOU``),
    or a fragment of it (a smaller skeleton lying mostly inside its box)."""
    size = max(person_size(a.keypoints), person_size(b.keypoints))
    # side views: MediaPipe may label one body's left and right limbs the other way round
    for keypoints in (b.keypoints, b.keypoints[_MIRROR]):
        shared = a.present & (keypoints[:, 2] > 0)
        if shared.sum() >= 3:
            distances = np.linalg.norm(a.keypoints[shared, :2] - keypoints[shared, :2], axis=1)
            if float(np.median(distances)) / size < SAME_PERSON_DISTANCE:
                return True
    box_a, box_b = a.bounding_box(), b.bounding_box()
    if not (np.isfinite(box_a).all() and np.isfinite(box_b).all()):
        return False
    overlap = _intersection(box_a, box_b)
    area_a, area_b = float(box_a[2] * box_a[3]), float(box_b[2] * box_b[3])
    if overlap > SAME_PERSON_IOU * (area_a + area_b - overlap):
        return True
    smaller = min(area_a, area_b)
    return smaller > 0 and overlap > FRAGMENT_INSIDE * smaller and smaller < FRAGMENT_AREA * max(area_a, area_b)


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    width = min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2)
    height = min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2)
    return max(float(width), 0.0) * max(float(height), 0.0)


def drop_duplicates(people: list[PersonPose]) -> list[PersonPose]:
    """People in order, without those that show the same body as an earlier one (``same_person``)."""
    kept: list[PersonPose] = []
    for person in people:
        if not any(same_person(person, other) for other in kept):
            kept.append(person)
    return kept


class MediaPipePose(PoseEstimator):
    """Every person's 33 landmarks; see the module docstring for the detection scheme."""

    layout = MEDIAPIPE_POSE_33

    def __init__(self, model: str = "full", num_poses: int = 4, video: bool = True,
                 min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, redetect_every: int = 5, redetect_confidence: float = 0.3,
                 min_joint_confidence: float = 0.05) -> None:
        num_poses, redetect_every = int(num_poses), int(redetect_every)
        confidences = {"min_detection_confidence": float(min_detection_confidence),
                       "min_presence_confidence": float(min_presence_confidence),
                       "min_tracking_confidence": float(min_tracking_confidence),
                       "redetect_confidence": float(redetect_confidence),
                       "min_joint_confidence": float(min_joint_confidence)}
        _check_options(model, num_poses, redetect_every, confidences)
        # MediaPipe's C++ side logs every graph start at INFO/WARNING level to stderr; keep errors only
        os.environ.setdefault("GLOG_minloglevel", "2")
        # protobuf 4 deprecation notice raised inside mediapipe on every result; not ours to fix
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
        self.name = f"mediapipe/{model}"
        self.num_poses = num_poses
        self.video = bool(video)
        # one person at most: the tracking pass's own detector already looks whenever nobody is tracked
        self.redetect_every = redetect_every if self.video and num_poses > 1 else 0
        self.min_joint_confidence = confidences["min_joint_confidence"]
        self._bundle = str(pose_bundle(model))
        self._confidences = confidences
        self._tracking = None  # VIDEO-mode landmarker (or the IMAGE one when video=False)
        self._fresh = None  # IMAGE-mode landmarker for fresh detections
        self._frames = 0
        self._fresh_due = 0  # frame index of the next fresh detection
        self._last_ms = -1
        self._closed = False
        with native_start_up_log():
            self._tracking = self._create(video=self.video, detection=confidences["min_detection_confidence"])
            if self.redetect_every:
                self._fresh = self._create(video=False, detection=confidences["redetect_confidence"])

    def _create(self, video: bool, detection: float):
        from mediapipe.tasks.python import BaseOptions, vision

        mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=self._bundle), running_mode=mode, num_poses=self.num_poses,
            min_pose_detection_confidence=detection,
            min_pose_presence_confidence=self._confidences["min_presence_confidence"],
            min_tracking_confidence=self._confidences["min_tracking_confidence"])
        try:
            return vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as error:
            raise PoseBackendError(f"MediaPipe cannot load the pose bundle {self._bundle}: {error}") from error

    def estimate(self, image_rgb: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> PoseFrame:
        width, height = check_image(image_rgb)
        if self._closed:
            raise PoseBackendError("this MediaPipe estimator was closed")
        import mediapipe as mp

        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image_rgb))
        starting = self._frames == 0
        with native_start_up_log() if starting else contextlib.nullcontext():  # graphs start on the first image
            if self.video:
                result = self._tracking.detect_for_video(image, self._timestamp_ms(stamp_ns))
            else:
                result = self._tracking.detect(image)
            people = drop_duplicates(self._people(result, width, height))
            if self._fresh is not None and self._frames >= self._fresh_due:
                tracked = len(people)
                people = drop_duplicates(people + self._people(self._fresh.detect(image), width, height))
                # someone the tracking pass misses: look again next frame, until it sees them itself
                self._fresh_due = self._frames + (1 if len(people) > tracked else self.redetect_every)
        self._frames += 1
        return PoseFrame(layout=self.layout.name, joint_names=self.layout.joint_names, image_width=width,
                         image_height=height, people=people[:self.num_poses], stamp_ns=stamp_ns, frame_id=frame_id,
                         backend=self.name)

    def _timestamp_ms(self, stamp_ns: int) -> int:
        """VIDEO mode needs strictly increasing milliseconds: the caller's stamps when they increase."""
        wanted = stamp_ns // 1_000_000 if stamp_ns > 0 else self._last_ms + _FRAME_MS
        self._last_ms = max(wanted, self._last_ms + 1)
        return self._last_ms

    def _people(self, result, width: int, height: int) -> list[PersonPose]:
        people = []
        for index, landmarks in enumerate(result.pose_landmarks):
            values = np.array([(lm.x, lm.y, lm.z, lm.visibility or 0.0) for lm in landmarks], dtype=np.float32)
            confidence = np.where(values[:, 3] >= self.min_joint_confidence, values[:, 3], 0.0)
            keypoints = np.stack([values[:, 0] * width, values[:, 1] * height, confidence], axis=1)
            world = None
            if index < len(result.pose_world_landmarks):
                world = np.array([(lm.x, lm.y, lm.z) for lm in result.pose_world_landmarks[index]], np.float32)
            people.append(PersonPose(keypoints=keypoints, score=float(np.mean(values[:, 3])),
                                     depth=values[:, 2] * width, world=world))
        return people

    def reset(self) -> None:
        """Forget the people being tracked (call between unrelated videos)."""
        if self._closed:
            return
        if self.video:
            with native_start_up_log():  # a new tracking graph: the Tasks API has no reset
                self._tracking.close()
                self._tracking = self._create(video=True, detection=self._confidences["min_detection_confidence"])
        self._frames = self._fresh_due = 0
        self._last_ms = -1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with native_start_up_log():
            for landmarker in (self._tracking, self._fresh):
                if landmarker is not None:
                    landmarker.close()
