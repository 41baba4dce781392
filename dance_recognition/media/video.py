"""Reading video files frame by frame, with the failures users meet named plainly.

OpenCV's ``VideoCapture`` answers a missing, unreadable or truncated file with ``read() ->
(False, None)`` and no reason. ``VideoReader`` turns that into ``VideoError`` messages that say
what is wrong (not found, not a video, no frames, size changed mid-stream) and reports, after
reading, how many frames were decoded against how many the container declared (a truncated file
decodes fewer).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from dance_recognition.errors import DanceRecognitionError

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
DEFAULT_FPS = 30.0


class VideoError(DanceRecognitionError):
    """A video that cannot be used; the message says why."""


class VideoReader:
    """RGB frames of a video file, in order. ``declared_frames`` may be 0 (unknown) or wrong."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise VideoError(f"{self.path}: cannot be opened as a video (unreadable, truncated or not a video file)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        self.declared_frames = max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.declared_size = (int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                              int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.size: tuple[int, int] | None = None  # (width, height) of the first decoded frame
        self.frames_read = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                break
            size = (frame.shape[1], frame.shape[0])
            if self.size is None:
                self.size = size
            elif size != self.size:
                raise VideoError(f"{self.path}: frame size changed at frame {self.frames_read} from "
                                 f"{self.size[0]}x{self.size[1]} to {size[0]}x{size[1]}")
            self.frames_read += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if self.frames_read == 0:
            raise VideoError(f"{self.path}: no frame could be decoded (empty, truncated or unsupported codec)")

    @property
    def truncated(self) -> bool:
        """Fewer frames decoded than the container declared (allowing for the usual rounding)."""
        return self.declared_frames > 0 and self.frames_read < 0.95 * self.declared_frames - 1

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def find_videos(root: str | os.PathLike) -> list[Path]:
    """Video files under ``root`` (recursive, sorted, hidden files skipped)."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


class VideoWriter:
    """An ``mp4v`` MP4 writer (readable back by OpenCV and common players) taking RGB frames."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        if not self._writer.isOpened():
            raise VideoError(f"cannot write video {self.path} (folder not writable or codec missing)")
        self.frames = 0

    def write(self, image_rgb: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
