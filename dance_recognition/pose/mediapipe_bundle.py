"""MediaPipe Tasks ``.task`` bundles built offline from the model files the mediapipe wheel ships.

Why: the Tasks API (``PoseLandmarker``, several people per image) reads a ``.task`` bundle that no
package ships, while mediapipe 0.10.14 carries the two networks inside (``pose_detection.tflite``
and ``pose_landmark_full.tflite``) plus the metadata writer that turns them into a bundle. Nothing
is downloaded: the bundle is built once (at set-up or on first use, about 0.3 s) and cached.

Cache: ``$DANCE_RECOGNITION_CACHE`` if set, else ``<venv>/share/dance_recognition/mediapipe`` when
the interpreter runs in a writable virtual environment, else ``~/.cache/dance_recognition/mediapipe``.
A bundle's file name carries a digest of the mediapipe version and of the source files' bytes, so a
changed wheel (or a replaced tflite file) gives a new name and the bundle is rebuilt; an unreadable
bundle is rebuilt too. Writes are atomic (``files.atomic_write``), so concurrent first uses are safe.

``lite`` and ``heavy`` landmark models are used when their tflite files exist, in the wheel's
``mediapipe/modules/pose_landmark/`` or in ``<cache>/models/`` (where ``scripts/setup.sh`` puts
them when an ``npm`` client can fetch ``@mediapipe/pose``).
"""
from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from pathlib import Path

from dance_recognition.files import atomic_write
from dance_recognition.pose.base import PoseBackendError

MODELS = ("lite", "full", "heavy")
NPM_PACKAGE = "@mediapipe/pose@0.5.1675469404"
DETECTOR_FILE = "pose_detection.tflite"
BUNDLE_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
# input normalisation the networks were trained with: detector -1..1, landmark model 0..1
_DETECTOR_NORMALISATION = (127.5, 127.5)
_LANDMARK_NORMALISATION = (0.0, 255.0)
_DETECTOR_OUTPUTS, _LANDMARK_OUTPUTS = 2, 5


def cache_dir() -> Path:
    """Where bundles (and optional extra landmark models) live; see the module docstring."""
    configured = os.environ.get("DANCE_RECOGNITION_CACHE")
    if configured:
        return Path(configured).expanduser() / "mediapipe"
    if sys.prefix != sys.base_prefix and os.access(sys.prefix, os.W_OK):
        return Path(sys.prefix) / "share" / "dance_recognition" / "mediapipe"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dance_recognition" / "mediapipe"


def wheel_model_dir() -> Path:
    """The installed mediapipe package's ``modules`` folder."""
    try:
        import mediapipe
    except ImportError as error:
        raise PoseBackendError(f"mediapipe is not importable ({error}); install mediapipe==0.10.14") from error
    return Path(mediapipe.__file__).parent / "modules"


def source_files(model: str, modules: Path | None = None, cache: Path | None = None) -> tuple[Path, Path]:
    """(detector, landmark model) tflite files for ``model``, or a PoseBackendError saying how to get them."""
    if model not in MODELS:
        raise PoseBackendError(f"unknown MediaPipe model {model!r}; choose one of {', '.join(MODELS)}")
    modules = modules or wheel_model_dir()
    detector = modules / "pose_detection" / DETECTOR_FILE
    if not detector.is_file():
        raise PoseBackendError(
            f"the mediapipe wheel's pose detector {detector} is missing: this backend builds its model from the "
            "files mediapipe 0.10.14 ships; reinstall it (pip install --force-reinstall mediapipe==0.10.14)")
    name = f"pose_landmark_{model}.tflite"
    candidates = [modules / "pose_landmark" / name, (cache or cache_dir()) / "models" / name]
    for candidate in candidates:
        if candidate.is_file():
            return detector, candidate
    if model == "full":
        raise PoseBackendError(
            f"the mediapipe wheel's landmark model {candidates[0]} is missing; reinstall it "
            "(pip install --force-reinstall mediapipe==0.10.14)")
    raise PoseBackendError(
        f"MediaPipe {model} model file {name} is missing (looked in {candidates[0].parent} and "
        f"{candidates[1].parent}); "
        f"the wheel ships only 'full'. Get it from the npm package {NPM_PACKAGE} (scripts/setup.sh does when npm "
        f"is installed; or: npm pack {NPM_PACKAGE}, then copy package/{name} to {candidates[1].parent}), "
        "or use model 'full'")


def _digest(*paths: Path) -> str:
    import mediapipe

    digest = hashlib.sha256(getattr(mediapipe, "__version__", "?").encode())
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _with_metadata(path: Path, normalisation: tuple[float, float], outputs: int) -> bytes:
    """The tflite model with the input-normalisation metadata the Tasks graph requires."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(path.read_bytes()))
    writer.add_general_info(path.stem, "built by dance_recognition from the mediapipe wheel's model file")
    writer.add_image_input(norm_mean=[normalisation[0]], norm_std=[normalisation[1]])
    for _ in range(outputs):
        writer.add_feature_output()
    return bytes(writer.populate()[0])


def is_valid_bundle(path: Path) -> bool:
    """A readable zip holding the two networks the pose landmarker needs."""
    try:
        with zipfile.ZipFile(path) as bundle:
            return set(BUNDLE_MEMBERS) <= set(bundle.namelist()) and bundle.testzip() is None
    except (OSError, zipfile.BadZipFile):
        return False


def build_bundle(detector: Path, landmarks: Path, output: Path) -> Path:
    """Writes the ``.task`` bundle atomically to ``output``."""
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    members = {
        BUNDLE_MEMBERS[0]: _with_metadata(detector, _DETECTOR_NORMALISATION, _DETECTOR_OUTPUTS),
        BUNDLE_MEMBERS[1]: _with_metadata(landmarks, _LANDMARK_NORMALISATION, _LANDMARK_OUTPUTS),
    }
    atomic_write(output, lambda file: model_asset_bundle_utils.create_model_asset_bundle(members, file))
    return output


def pose_bundle(model: str = "full", cache: Path | None = None, modules: Path | None = None) -> Path:
    """The cached bundle for ``model``, built first when missing, stale or unreadable."""
    cache = cache or cache_dir()
    detector, landmarks = source_files(model, modules, cache)
    bundle = cache / f"pose_landmarker_{model}-{_digest(detector, landmarks)}.task"
    if bundle.is_file() and is_valid_bundle(bundle):
        return bundle
    try:
        build_bundle(detector, landmarks, bundle)
    except OSError as error:
        raise PoseBackendError(f"cannot write the MediaPipe bundle to {bundle.parent} ({error.strerror}); "
                               "set DANCE_RECOGNITION_CACHE to a writable folder") from error
    for old in cache.glob(f"pose_landmarker_{model}-*.task"):
        if old != bundle:  # bundles of a previous wheel
            old.unlink(missing_ok=True)
    return bundle


def available_models(cache: Path | None = None, modules: Path | None = None) -> list[str]:
    """The models whose tflite files are present."""
    found = []
    for model in MODELS:
        try:
            source_files(model, modules, cache)
        except PoseBackendError:
            continue
        found.append(model)
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m dance_recognition.pose.mediapipe_bundle``: build the bundles of every available model."""
    del argv
    try:
        for model in available_models():
            print(f"[setup] MediaPipe {model} bundle: {pose_bundle(model)}")
    except PoseBackendError as error:
        print(f"[setup] ERROR: {error}", file=sys.stderr)
        return 1
    missing = [m for m in MODELS if m not in available_models()]
    if missing:
        print(f"[setup] MediaPipe {'/'.join(missing)} models not present (optional): they come from the npm package "
              f"{NPM_PACKAGE} into {cache_dir() / 'models'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
