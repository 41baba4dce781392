"""CMU OpenPose body models, multi-person, in two ways.

1. ``pyopenpose``: OpenPose's own Python API, where the user has built OpenPose with
   ``BUILD_PYTHON=ON`` (it is not on PyPI or in Debian, so it cannot be installed by this
   package; OpenPose is licensed for non-commercial research only). We call its documented API:
   ``WrapperPython.configure/start``, ``Datum.cvInputData``, ``emplaceAndPop``, ``poseKeypoints``.
2. ``opencv``: the same Caffe models (COCO-18 or BODY_25 ``.prototxt`` + ``.caffemodel``, supplied
   by the user: no package ships them) run by OpenCV's DNN module, decoded with the
   part-affinity-field grouping in ``paf_grouping``. About 1-4 s per frame on a laptop CPU; set
   ``device='cuda'`` where OpenCV was built with CUDA.

Both report OpenPose's joint order (layouts ``openpose_coco_18`` / ``openpose_body_25``) in image
pixels; OpenPose's "0 = missing" becomes the package convention (confidence 0, NaN position).
"""
from __future__ import annotations

import importlib
from pathlib import Path

import cv2
import numpy as np

from dance_recognition.pose.base import PoseBackendError, PoseEstimator, check_image
from dance_recognition.pose.paf_grouping import PAF_MODELS, PafThresholds, decode_network_output
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

ENGINES = ("auto", "pyopenpose", "opencv")


def _spec(model: str):
    try:
        return PAF_MODELS[model]
    except KeyError:
        raise PoseBackendError(f"unknown OpenPose model {model!r}; choose one of {', '.join(PAF_MODELS)}") from None


def _frame(people: list[np.ndarray], spec, width: int, height: int, stamp_ns: int, frame_id: str,
           backend: str) -> PoseFrame:
    persons = [PersonPose(keypoints=k, score=float(np.mean(k[:, 2]))) for k in people]
    return PoseFrame(layout=spec.layout.name, joint_names=spec.layout.joint_names, image_width=width,
                     image_height=height, people=persons, stamp_ns=stamp_ns, frame_id=frame_id, backend=backend)


def output_layout(model: str = "COCO", **options: object) -> str:
    return _spec(model).layout.name


class OpenCVOpenPose(PoseEstimator):
    """OpenPose Caffe model through ``cv2.dnn`` + our PAF grouping."""

    def __init__(self, prototxt: str | Path, caffemodel: str | Path, model: str = "COCO",
                 input_size: tuple[int, int] = (368, 368), device: str = "cpu",
                 thresholds: PafThresholds | None = None) -> None:
        self.spec = _spec(model)
        self.layout = self.spec.layout
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.thresholds = thresholds or PafThresholds()
        self.model = model
        self.name = f"openpose-opencv/{model}"
        for label, path in (("prototxt", prototxt), ("caffemodel", caffemodel)):
            if not Path(path).is_file():
                raise PoseBackendError(
                    f"OpenPose {label} {path} not found: download the {model} model files of CMU OpenPose "
                    "(models/getModels.sh in its repository) and pass their paths"
                )
        if not hasattr(cv2.dnn, "readNetFromCaffe"):
            raise PoseBackendError(f"OpenCV {cv2.__version__} has no Caffe importer; install opencv < 5")
        try:
            self._net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
        except cv2.error as error:
            raise PoseBackendError(f"OpenCV cannot read the model {prototxt} / {caffemodel}: {error}") from None
        if device.startswith("cuda"):
            self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_CUDA)
            self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CUDA)

    def network_output(self, image_rgb: np.ndarray) -> np.ndarray:
        """(C, h, w) raw maps. OpenPose's input: BGR, (pixel - 128) / 256."""
        blob = cv2.dnn.blobFromImage(image_rgb, 1.0 / 256, self.input_size, (128, 128, 128), swapRB=True, crop=False)
        self._net.setInput(blob)
        output = self._net.forward()
        if output.ndim != 4 or output.shape[1] != self.spec.num_channels:
            raise PoseBackendError(
                f"the network gives output of shape {output.shape}, but an OpenPose {self.model} model gives "
                f"(1, {self.spec.num_channels}, h, w): is model={self.model!r} right for these model files?"
            )
        return output[0]

    def estimate(self, image_rgb: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> PoseFrame:
        width, height = check_image(image_rgb)
        people = decode_network_output(self.network_output(image_rgb), self.spec, (width, height), self.input_size,
                                       self.thresholds)
        return _frame(people, self.spec, width, height, stamp_ns, frame_id, self.name)

    def close(self) -> None:
        self._net = None


class PyOpenPose(PoseEstimator):
    """OpenPose's own Python API (``pyopenpose``), for users who built OpenPose."""

    def __init__(self, model_folder: str | Path, model: str = "BODY_25", net_resolution: str = "-1x368",
                 module: str = "pyopenpose", extra_params: dict | None = None) -> None:
        self.spec = _spec(model)
        self.layout = self.spec.layout
        self.name = f"openpose/{model}"
        self._op = import_pyopenpose(module)
        params = {"model_folder": str(model_folder), "model_pose": model, "net_resolution": net_resolution}
        params.update(extra_params or {})
        self._wrapper = self._op.WrapperPython()
        self._wrapper.configure(params)
        self._wrapper.start()

    def estimate(self, image_rgb: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> PoseFrame:
        width, height = check_image(image_rgb)
        datum = self._op.Datum()
        datum.cvInputData = np.ascontiguousarray(image_rgb[:, :, ::-1])  # OpenPose takes BGR
        self._wrapper.emplaceAndPop(self._op.VectorDatum([datum]))
        raw = datum.poseKeypoints
        people = []
        if raw is not None and np.ndim(raw) == 3:
            if raw.shape[1] != self.layout.num_joints:
                raise PoseBackendError(f"pyopenpose returned {raw.shape[1]} joints per person for a "
                                       f"{self.layout.name} model: check model_pose")
            people = [np.asarray(person, np.float32) for person in raw]  # confidence 0 = missing
        return _frame(people, self.spec, width, height, stamp_ns, frame_id, self.name)

    def close(self) -> None:
        if self._wrapper is not None:
            self._wrapper.stop()
            self._wrapper = None


def import_pyopenpose(module: str = "pyopenpose"):
    """OpenPose's Python module, importable as ``pyopenpose`` or ``openpose.pyopenpose``."""
    for name in (module, f"openpose.{module}"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise PoseBackendError(
        "pyopenpose is not importable: build CMU OpenPose with -DBUILD_PYTHON=ON and add its python folder to "
        "PYTHONPATH, or use engine='opencv' with the model's prototxt and caffemodel files"
    )


def OpenPose(engine: str = "auto", model: str = "COCO", model_folder: str | Path | None = None,  # noqa: N802
             prototxt: str | Path | None = None, caffemodel: str | Path | None = None, **options):
    """The ``openpose`` backend: ``engine`` 'pyopenpose', 'opencv', or 'auto' (pyopenpose when a
    ``model_folder`` is given and it imports, else OpenCV with ``prototxt`` + ``caffemodel``)."""
    if engine not in ENGINES:
        raise PoseBackendError(f"unknown OpenPose engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "pyopenpose" or (engine == "auto" and model_folder and prototxt is None):
        if not model_folder:
            raise PoseBackendError("the pyopenpose engine needs model_folder (OpenPose's models/ directory)")
        return PyOpenPose(model_folder, model=model, **options)
    if prototxt is None or caffemodel is None:
        raise PoseBackendError(
            "the openpose backend needs either model_folder (with pyopenpose built) or prototxt and caffemodel "
            "(OpenPose's COCO/BODY_25 Caffe files, run by OpenCV)"
        )
    return OpenCVOpenPose(prototxt, caffemodel, model=model, **options)
