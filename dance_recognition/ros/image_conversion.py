"""sensor_msgs/Image <-> numpy, in one place.

``cv_bridge`` is used where it imports (every ROS 2 desktop install has it); otherwise the
package's own exact conversion (``dance_recognition.media.images``, ROS-free) handles the common
encodings (rgb8, bgr8, rgba8, bgra8, mono8), respecting ``step`` (rows may be padded).
Outgoing images are built with ``data=array.tobytes()``: assigning a numpy array to ``msg.data``
goes through a per-element Python path (about 75 ms for 640x480x3) and is never done.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image

from dance_recognition.media.images import CHANNELS, ImageConversionError, raw_image_to_rgb

__all__ = ["CHANNELS", "ImageConversionError", "image_to_rgb", "rgb_to_image"]

try:  # pragma: no cover - depends on the ROS installation
    from cv_bridge import CvBridge

    _BRIDGE: CvBridge | None = CvBridge()
except Exception:  # ImportError, or a ROS 1 cv_bridge that fails with ROS 2 / numpy 2
    _BRIDGE = None


def image_to_rgb(msg: Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB copy of ``msg``; grey images are expanded to three channels."""
    encoding = msg.encoding.lower()
    if _BRIDGE is not None and encoding not in CHANNELS:
        return np.ascontiguousarray(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding="rgb8"))
    return raw_image_to_rgb(msg)


def rgb_to_image(image: np.ndarray, header=None, encoding: str = "rgb8") -> Image:
    """A sensor_msgs/Image of an (H, W, 3) uint8 RGB array, in ``rgb8`` or ``bgr8``."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ImageConversionError(f"expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if encoding == "bgr8":
        image = image[:, :, ::-1]
    elif encoding != "rgb8":
        raise ImageConversionError(f"can write rgb8 or bgr8, not {encoding!r}")
    height, width = image.shape[:2]
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0, step=width * 3,
                data=np.ascontiguousarray(image).tobytes())
    if header is not None:
        msg.header = header
    return msg
