"""OpenPose backend: PAF grouping on synthetic maps with known answers, the real OpenCV DNN path on
generated model files, and the pyopenpose wrapper against a named fake (OpenPose cannot be built here)."""
from __future__ import annotations

import sys
import types

import cv2
import numpy as np
import pytest
from openpose_model_files import reference_output, write_model

from dance_recognition.pose import PoseBackendError, create_estimator
from dance_recognition.pose.paf_grouping import PAF_MODELS, PafModelSpec, group_people


def render_maps(people: list[np.ndarray], spec: PafModelSpec, height: int, width: int,
                sigma: float = 2.0, limb_width: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """What a perfect network would output for these people: Gaussian joint peaks, unit vectors
    along each limb within ``limb_width`` pixels (averaged where limbs overlap)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    heatmaps = np.zeros((spec.num_heatmaps, height, width), np.float32)
    fields = np.zeros((2 * len(spec.limbs), height, width), np.float32)
    counts = np.zeros((len(spec.limbs), height, width), np.float32)
    for joints in people:
        for j, (x, y) in enumerate(joints):
            if np.isfinite(x):
                heatmaps[j] = np.maximum(heatmaps[j], np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2)))
        for limb, (a, b) in enumerate(spec.limbs):
            if not (np.isfinite(joints[a]).all() and np.isfinite(joints[b]).all()):
                continue
            direction = joints[b] - joints[a]
            length = np.linalg.norm(direction)
            unit = direction / length
            along = (xs - joints[a][0]) * unit[0] + (ys - joints[a][1]) * unit[1]
            across = np.abs((xs - joints[a][0]) * unit[1] - (ys - joints[a][1]) * unit[0])
            mask = (along >= 0) & (along <= length) & (across <= limb_width)
            cx, cy = spec.field_channels[limb]
            fields[cx][mask] += unit[0]
            fields[cy][mask] += unit[1]
            counts[limb][mask] += 1
    for limb, (cx, cy) in enumerate(spec.field_channels):
        nonzero = counts[limb] > 0
        fields[cx][nonzero] /= counts[limb][nonzero]
        fields[cy][nonzero] /= counts[limb][nonzero]
    heatmaps[-1] = 1.0 - heatmaps[:-1].max(axis=0)
    return heatmaps, fields


def coco_person(x0: float, y0: float, scale: float = 1.0) -> np.ndarray:
    """A standing COCO-18 person with the neck at (x0, y0)."""
    offsets = np.array([
        (0, -12), (0, 0), (-10, 0), (-14, 14), (-16, 28), (10, 0), (14, 14), (16, 28), (-6, 30), (-7, 48),
        (-8, 66), (6, 30), (7, 48), (8, 66), (-3, -15), (3, -15), (-6, -13), (6, -13),
    ], np.float32)
    return np.array([x0, y0], np.float32) + offsets * scale


def _match(found: list[np.ndarray], truth: np.ndarray) -> np.ndarray:
    """The found person whose neck is nearest the true neck."""
    return min(found, key=lambda k: np.linalg.norm(k[1, :2] - truth[1]))


def test_grouping_separates_two_close_people() -> None:
    spec = PAF_MODELS["COCO"]
    truth = [coco_person(40, 30), coco_person(75, 34, scale=1.1)]  # wrists 28 px apart
    heatmaps, fields = render_maps(truth, spec, 120, 120)
    found = group_people(heatmaps, fields, spec)
    assert len(found) == 2
    for person in truth:
        keypoints = _match(found, person)
        assert (keypoints[:, 2] > 0.9).all()
        np.testing.assert_allclose(keypoints[:, :2], person, atol=1.0)


def test_grouping_keeps_missing_joints_missing_and_drops_fragments() -> None:
    spec = PAF_MODELS["COCO"]
    person = coco_person(50, 30)
    person[[4, 10, 13]] = np.nan  # right wrist and both ankles unseen
    fragment = np.full((18, 2), np.nan, np.float32)
    fragment[[0, 14]] = [(100, 100), (97, 97)]  # a stray nose + eye: fewer joints than a person needs
    heatmaps, fields = render_maps([person, fragment], spec, 120, 120)
    found = group_people(heatmaps, fields, spec)
    assert len(found) == 1
    keypoints = found[0]
    assert (keypoints[[4, 10, 13], 2] == 0).all()
    present = np.isfinite(person[:, 0])
    np.testing.assert_allclose(keypoints[present, :2], person[present], atol=1.0)


def test_grouping_body_25() -> None:
    spec = PAF_MODELS["BODY_25"]
    coco = coco_person(60, 30)
    body = np.full((25, 2), np.nan, np.float32)
    names = spec.layout.joint_names
    from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18

    for index, name in enumerate(OPENPOSE_COCO_18.joint_names):
        body[names.index(name)] = coco[index]
    body[names.index("mid_hip")] = coco[[8, 11]].mean(axis=0)
    heatmaps, fields = render_maps([body], spec, 120, 120)
    found = group_people(heatmaps, fields, spec)
    assert len(found) == 1
    present = np.isfinite(body[:, 0])
    assert (found[0][present, 2] > 0.9).all() and (found[0][~present, 2] == 0).all()
    np.testing.assert_allclose(found[0][present, :2], body[present], atol=1.0)


def test_grouping_rejects_wrong_channel_counts() -> None:
    spec = PAF_MODELS["COCO"]
    with pytest.raises(ValueError, match="38 field channels"):
        group_people(np.zeros((19, 8, 8), np.float32), np.zeros((52, 8, 8), np.float32), spec)


@pytest.fixture()
def coco_files(tmp_path):
    spec = PAF_MODELS["COCO"]
    return write_model(tmp_path, spec.num_heatmaps, 2 * len(spec.limbs))


def test_opencv_dnn_path_runs_the_caffe_model_with_openpose_preprocessing(coco_files) -> None:
    prototxt, caffemodel, weights = coco_files
    estimator = create_estimator("openpose", engine="opencv", prototxt=prototxt, caffemodel=caffemodel,
                                 model="COCO", input_size=(64, 64))
    rng = np.random.default_rng(1)
    image_rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    output = estimator.network_output(image_rgb)
    expected_input = (image_rgb[:, :, ::-1].astype(np.float32) - 128.0) / 256.0  # BGR, OpenPose scaling
    np.testing.assert_allclose(output, reference_output(expected_input.transpose(2, 0, 1), weights), atol=1e-4)


def test_opencv_dnn_path_on_a_real_photo(coco_files) -> None:
    prototxt, caffemodel, _ = coco_files
    estimator = create_estimator("openpose", engine="opencv", prototxt=prototxt, caffemodel=caffemodel,
                                 model="COCO", input_size=(64, 64))
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        image = cv2.cvtColor(cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    frame = estimator.estimate(image, stamp_ns=7, frame_id="cam")
    assert frame.layout == "openpose_coco_18" and frame.stamp_ns == 7
    assert (frame.image_width, frame.image_height) == (image.shape[1], image.shape[0])
    for person in frame.people:  # random weights: whatever is found follows the convention
        present = person.keypoints[:, 2] > 0
        assert np.isnan(person.keypoints[~present, :2]).all()
        assert (person.keypoints[present, 0] >= -1).all() and (person.keypoints[present, 0] <= image.shape[1]).all()


def test_opencv_dnn_path_errors(coco_files, tmp_path) -> None:
    prototxt, caffemodel, _ = coco_files
    with pytest.raises(PoseBackendError, match="BODY_25 model gives"):
        create_estimator("openpose", engine="opencv", prototxt=prototxt, caffemodel=caffemodel, model="BODY_25",
                         input_size=(64, 64)).estimate(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(PoseBackendError, match="getModels"):
        create_estimator("openpose", engine="opencv", prototxt=tmp_path / "no.prototxt", caffemodel=caffemodel)
    broken = tmp_path / "broken.caffemodel"
    broken.write_bytes(caffemodel.read_bytes()[:100])
    with pytest.raises(PoseBackendError, match="cannot read"):
        create_estimator("openpose", engine="opencv", prototxt=prototxt, caffemodel=broken)
    with pytest.raises(PoseBackendError, match="prototxt and caffemodel"):
        create_estimator("openpose")


class FakePyOpenPose(types.ModuleType):
    """A FAKE of OpenPose's pyopenpose module (OpenPose cannot be built here): records what the
    wrapper passes and answers with fixed keypoints in OpenPose's format (0 = missing)."""

    def __init__(self, keypoints: np.ndarray) -> None:
        super().__init__("fake_pyopenpose")
        self.keypoints, self.seen, self.params = keypoints, [], None
        module = self

        class Datum:
            cvInputData = None  # noqa: N815 (pyopenpose's attribute names)
            poseKeypoints = None  # noqa: N815

        class WrapperPython:
            def configure(self, params):
                module.params = params

            def start(self):
                pass

            def stop(self):
                pass

            def emplaceAndPop(self, data):  # noqa: N802
                for datum in data:
                    module.seen.append(datum.cvInputData)
                    datum.poseKeypoints = module.keypoints

        self.Datum, self.WrapperPython, self.VectorDatum = Datum, WrapperPython, list


def test_pyopenpose_wrapper_with_a_fake_engine(monkeypatch, tmp_path) -> None:
    keypoints = np.zeros((2, 25, 3), np.float32)
    keypoints[0, :, :] = (100, 50, 0.8)
    keypoints[0, 4] = 0  # OpenPose's missing joint
    fake = FakePyOpenPose(keypoints)
    monkeypatch.setitem(sys.modules, "fake_pyopenpose", fake)
    estimator = create_estimator("openpose", engine="pyopenpose", model="BODY_25", model_folder=tmp_path,
                                 module="fake_pyopenpose")
    image = np.zeros((20, 30, 3), np.uint8)
    image[..., 0] = 255  # red in RGB
    frame = estimator.estimate(image)
    assert fake.params["model_pose"] == "BODY_25" and fake.params["model_folder"] == str(tmp_path)
    assert fake.seen[0][0, 0].tolist() == [0, 0, 255]  # handed over as BGR
    assert frame.layout == "openpose_body_25" and len(frame.people) == 2
    first = frame.people[0].keypoints
    assert np.isnan(first[4, :2]).all() and first[4, 2] == 0 and first[0].tolist() == pytest.approx([100, 50, 0.8])
    assert frame.people[1].present.sum() == 0
    estimator.close()


def test_pyopenpose_missing_says_how_to_get_it(tmp_path) -> None:
    with pytest.raises(PoseBackendError, match="BUILD_PYTHON"):
        create_estimator("openpose", engine="pyopenpose", model_folder=tmp_path, module="no_such_pyopenpose")


def test_backend_options_from_flat_settings() -> None:
    from dance_recognition.pose import backend_options

    assert backend_options("openpose", "COCO", "a.prototxt", "b.caffemodel", "", "cuda") == {
        "model": "COCO", "prototxt": "a.prototxt", "caffemodel": "b.caffemodel", "device": "cuda"}
    assert backend_options("openpose", "", "", "", "/opt/openpose/models", "cuda") == {
        "model_folder": "/opt/openpose/models"}
    assert backend_options("mediapipe", "full", "a.prototxt", "", "", "cuda") == {"model": "full"}
