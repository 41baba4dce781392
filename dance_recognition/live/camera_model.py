"""The camera's geometry: its calibration file and the pinhole rays the 3-D markers are placed on.

``load_calibration`` reads the YAML that ``camera_calibration`` writes and
``camera_calibration_parsers``/``camera_info_manager`` read (image_width, image_height,
camera_name, camera_matrix, distortion_model, distortion_coefficients, rectification_matrix,
projection_matrix), from a ``camera_info_url`` as camera_info_manager spells it: ``file:///path``,
``package://package/path`` or a plain path. ``CameraCalibration.scaled`` fits it to the size the
images are published at (the camera node may downscale them), since K and P are in pixels.
No rclpy import: the camera node turns the result into sensor_msgs/CameraInfo.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from dance_recognition.errors import DanceRecognitionError

ASSUMED_HFOV_DEG = 60.0  # a typical webcam, when no calibration is known


class CalibrationError(DanceRecognitionError):
    """A camera_info_url that cannot be read, or a calibration that does not fit the images."""


@dataclass(frozen=True)
class CameraCalibration:
    width: int
    height: int
    camera_name: str
    k: tuple[float, ...]  # 3x3 row-major
    distortion_model: str
    d: tuple[float, ...]
    r: tuple[float, ...]  # 3x3
    p: tuple[float, ...]  # 3x4

    def scaled(self, width: int, height: int) -> CameraCalibration:
        """The calibration for images of ``width`` x ``height``: the same camera resized keeps
        its distortion, and its pixel intrinsics scale with the size."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        if not math.isclose(sx, sy, rel_tol=0.01):
            raise CalibrationError(
                f"the calibration is for {self.width}x{self.height} images but the camera delivers {width}x{height} "
                "(another aspect ratio): calibrate at this resolution or set the camera to the calibrated one")
        k, p = list(self.k), list(self.p)
        for row, scale in ((0, sx), (1, sy)):
            k[3 * row: 3 * row + 3] = [v * scale for v in k[3 * row: 3 * row + 3]]
            p[4 * row: 4 * row + 4] = [v * scale for v in p[4 * row: 4 * row + 4]]
        return replace(self, width=width, height=height, k=tuple(k), p=tuple(p))


def calibration_path(url: str) -> Path:
    """The file a camera_info_url names (file://, package://, or a plain path)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path if parsed.scheme else url))
    if parsed.scheme == "package":
        try:
            from ament_index_python.packages import get_package_share_directory

            share = Path(get_package_share_directory(parsed.netloc))
        except (ImportError, LookupError, OSError) as error:
            raise CalibrationError(f"camera_info_url {url}: package {parsed.netloc!r} not found ({error}); "
                                   "source its workspace or give a file:// path") from None
        return share / unquote(parsed.path).lstrip("/")
    raise CalibrationError(f"camera_info_url {url}: only file://, package:// and plain paths are supported")


def _matrix(data: dict, key: str, size: int, path: Path) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in data[key]["data"])
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(
            f"{path}: {key}.data is missing or not numbers (is it a camera_calibration YAML?)") from None
    if len(values) != size:
        raise CalibrationError(f"{path}: {key}.data has {len(values)} numbers, expected {size}")
    return values


def load_calibration(url: str) -> CameraCalibration:
    path = calibration_path(url)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise CalibrationError(f"camera_info_url {url}: cannot read {path} ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise CalibrationError(f"camera_info_url {url}: {path} is not YAML ({error})") from None
    if not isinstance(data, dict) or "image_width" not in data or "camera_matrix" not in data:
        raise CalibrationError(f"{path} is not a camera calibration file (no image_width / camera_matrix)")
    k = _matrix(data, "camera_matrix", 9, path)
    identity = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    distortion = data.get("distortion_coefficients") or {"data": []}
    return CameraCalibration(
        width=int(data["image_width"]), height=int(data["image_height"]), camera_name=str(data.get("camera_name", "")),
        k=k, distortion_model=str(data.get("distortion_model", "plumb_bob")),
        d=tuple(float(v) for v in distortion.get("data") or []),
        r=_matrix(data, "rectification_matrix", 9, path) if "rectification_matrix" in data else identity,
        p=_matrix(data, "projection_matrix", 12, path) if "projection_matrix" in data else
        (*k[:3], 0.0, *k[3:6], 0.0, *k[6:], 0.0))


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (fx, fy, cx, cy)."""

    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_k(cls, k) -> Intrinsics | None:
        """From a CameraInfo/calibration K; None when uncalibrated (K all zero)."""
        if not k[0] or not k[4]:
            return None
        return cls(float(k[0]), float(k[4]), float(k[2]), float(k[5]))

    @classmethod
    def assumed(cls, width: int, height: int, hfov_deg: float = ASSUMED_HFOV_DEG) -> Intrinsics:
        focal = width / (2 * math.tan(math.radians(hfov_deg) / 2))
        return cls(focal, focal, width / 2, height / 2)

    def point_at(self, u: float, v: float, depth: float) -> tuple[float, float, float]:
        """The point at ``depth`` metres along the optical axis on the ray through pixel (u, v),
        in the optical frame (x right, y down, z forward)."""
        return ((u - self.cx) / self.fx * depth, (v - self.cy) / self.fy * depth, depth)
