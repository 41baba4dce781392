"""Image message pixels <-> numpy, without ROS: raw ``sensor_msgs/Image`` buffers and JPEG/PNG
``sensor_msgs/CompressedImage`` data.

Works on any object with the message's fields (rclpy message, or one decoded from a bag by the
rosbags typestore). The exact conversion handles the common encodings (rgb8, bgr8, rgba8,
bgra8, mono8), respecting ``step`` (rows may be padded); ``is_bigendian`` is irrelevant for
8-bit data.
"""
from __future__ import annotations

import numpy as np

CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


class ImageConversionError(ValueError):
    """An image message that cannot be read as asked (encoding, sizes)."""


def raw_image_to_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB copy of a sensor_msgs/Image; grey images are expanded to three channels."""
    encoding = msg.encoding.lower()
    channels = CHANNELS.get(encoding)
    if channels is None:
        raise ImageConversionError(f"unsupported image encoding {msg.encoding!r}; publish one of "
                                   f"{', '.join(CHANNELS)} (or install cv_bridge)")
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageConversionError(f"empty image ({width}x{height})")
    if step < width * channels or len(msg.data) < step * height:
        raise ImageConversionError(f"image {width}x{height} {encoding}: step {step} and {len(msg.data)} bytes of data "
                                   "do not hold the pixels")
    rows = np.frombuffer(msg.data, dtype=np.uint8, count=step * height).reshape(height, step)
    pixels = rows[:, : width * channels].reshape(height, width, channels)
    if encoding == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if encoding.startswith("bgr"):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def compressed_image_to_rgb(msg) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a sensor_msgs/CompressedImage (any format OpenCV decodes: jpeg, png)."""
    import cv2

    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageConversionError(f"compressed image of format {msg.format!r} ({data.size} bytes) cannot be decoded; "
                                   "expected JPEG or PNG data")
    return np.ascontiguousarray(image[:, :, ::-1])


def encode_jpeg(image_rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 RGB image (what CompressedImage ``format: jpeg`` carries)."""
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image_rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageConversionError(f"JPEG encoding of a {image_rgb.shape} image failed")
    return data.tobytes()
