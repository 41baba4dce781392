"""Real MediaPipe on real footage and on an image shipped inside an installed package."""
from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest
from real_footage import read_rgb_frames, shared_video

from dance_recognition.pose import PoseBackendError, PoseEstimator, create_estimator
from dance_recognition.pose.mediapipe_bundle import source_files

GRACE_HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@pytest.fixture(scope="module")
def tai_chi_frames() -> list[np.ndarray]:
    frames = read_rgb_frames(shared_video("ta_chi.mp4"), 30)
    assert len(frames) == 30
    return frames


def test_video_mode_follows_the_person_through_real_footage(tai_chi_frames) -> None:
    estimator = create_estimator("mediapipe")
    assert isinstance(estimator, PoseEstimator) and estimator.name == "mediapipe/full"
    try:
        frames = [estimator.estimate(image, stamp_ns=i, frame_id="camera") for i, image in enumerate(tai_chi_frames)]
    finally:
        estimator.close()
    detected = [f for f in frames if f.people]
    assert len(detected) >= 27, f"person found in only {len(detected)}/30 frames"  # 30/30 measured
    height, width = tai_chi_frames[0].shape[:2]
    for frame in detected:
        assert frame.layout == "mediapipe_pose_33" and len(frame.joint_names) == 33
        assert (frame.image_width, frame.image_height) == (width, height) and frame.frame_id == "camera"
        person = frame.people[0]
        xy = person.keypoints[person.present, :2]
        assert (xy[:, 0] > -0.1 * width).all() and (xy[:, 0] < 1.1 * width).all()
        assert (xy[:, 1] > -0.1 * height).all() and (xy[:, 1] < 1.1 * height).all()
        assert person.world is not None and np.isfinite(person.world[person.present]).all()
    assert [f.stamp_ns for f in frames] == list(range(30))


def test_static_mode_finds_a_face_the_right_way_round() -> None:
    image = cv2.cvtColor(cv2.imread(str(GRACE_HOPPER)), cv2.COLOR_BGR2RGB)
    with create_estimator("mediapipe", video=False) as estimator:
        frame = estimator.estimate(image)
    assert len(frame.people) == 1
    person = frame.people[0]
    names = frame.joint_names
    nose, left_eye, right_eye = (person.keypoints[names.index(n)] for n in ("nose", "left_eye", "right_eye"))
    assert nose[2] > 0.5 and left_eye[2] > 0.5 and right_eye[2] > 0.5
    # the person's right eye appears on the image's left, both eyes above the nose
    assert right_eye[0] < nose[0] < left_eye[0]
    assert max(left_eye[1], right_eye[1]) < nose[1]


def test_missing_model_file_says_how_to_get_it(tmp_path: Path) -> None:
    try:
        source_files("lite", cache=tmp_path)  # an empty cache: only the wheel's own files
    except PoseBackendError as error:
        assert "@mediapipe/pose" in str(error) and "use model 'full'" in str(error)
    else:
        pytest.skip("the lite model was copied into the mediapipe wheel here")
    with pytest.raises(PoseBackendError, match="unknown MediaPipe model 'tiny'"):
        create_estimator("mediapipe", model="tiny")


def test_unknown_backend_and_bad_images_are_clear_errors() -> None:
    with pytest.raises(PoseBackendError, match="unknown pose backend 'alphapose'; available: mediapipe"):
        create_estimator("alphapose")
    with create_estimator("mediapipe", video=False) as estimator:
        with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) RGB image"):
            estimator.estimate(np.zeros((480, 640), np.uint8))
        with pytest.raises(ValueError, match="expected a uint8 image"):
            estimator.estimate(np.zeros((48, 64, 3), np.float32))
        assert estimator.estimate(np.zeros((48, 64, 3), np.uint8)).people == []  # nobody in a black frame


def test_native_start_up_log_is_held_back_and_replayed_on_failure(capfd) -> None:
    import os

    from dance_recognition.pose.mediapipe_backend import native_start_up_log

    with native_start_up_log():
        os.write(2, b"W0000 feedback manager notice\n")
    assert "feedback manager" not in capfd.readouterr().err
    with pytest.raises(RuntimeError), native_start_up_log():
        os.write(2, b"E0000 model file broken\n")
        raise RuntimeError("start failed")
    assert "model file broken" in capfd.readouterr().err
