"""Frames from a webcam (index or device path) or a video file, surviving disconnects.

A camera that stops delivering (unplugged, driver reset) or a looping video file that vanishes
or is replaced is reopened with exponential back-off; the state changes are reported once each
(``state`` and ``on_state``), not once per failed frame. A video file played ``once`` ends with
``read()`` returning ``None`` and ``finished`` set.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DEFAULT_FPS = 30.0


def is_device(source: str) -> bool:
    return source.isdigit() or source.startswith("/dev/video")


def webcam_available(index: int = 0) -> bool:
    """Whether a webcam opens and gives a frame (the main job uses one when present)."""
    if not Path(f"/dev/video{index}").exists():
        return False
    capture = cv2.VideoCapture(index)
    try:
        return capture.isOpened() and capture.read()[0]
    finally:
        capture.release()


@dataclass
class BackOff:
    initial_s: float = 0.5
    maximum_s: float = 8.0
    delay: float = 0.0  # the current wait between attempts
    _next_try: float = 0.0

    def ready(self, now: float) -> bool:
        return now >= self._next_try

    def failed(self, now: float) -> None:
        self.delay = min(self.maximum_s, self.delay * 2 if self.delay else self.initial_s)
        self._next_try = now + self.delay

    def succeeded(self) -> None:
        self.delay, self._next_try = 0.0, 0.0


class FrameSource:
    """``read()`` -> RGB frame, or None when no frame is available right now (or ever: ``finished``)."""

    def __init__(self, source: str, loop: bool = True, max_width: int = 0, back_off: BackOff | None = None,
                 on_state: Callable[[str, str], None] | None = None) -> None:
        self.source, self.loop, self.max_width = source, loop, max_width
        self.device = is_device(source)
        self.back_off = back_off or BackOff()
        self.on_state = on_state or (lambda state, detail: None)
        self.state = "closed"
        self.finished = False
        self.fps = DEFAULT_FPS
        self.frames_read = 0
        self._capture: cv2.VideoCapture | None = None
        self._frames_this_open = 0
        if not self.device and not loop and not Path(source).is_file():
            raise FileNotFoundError(f"video file {source} does not exist (use loop to wait for it)")

    def _set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            self.on_state(state, detail)

    def _open(self) -> bool:
        target = int(self.source) if self.source.isdigit() else self.source
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            return False
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
        self._capture, self._frames_this_open = capture, 0
        return True

    def _close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _reopen(self, now: float) -> bool:
        """Open the source when the back-off allows; reports the state change."""
        if not self.back_off.ready(now):
            return False
        if not self._open():
            self.back_off.failed(now)
            self._set_state("waiting", f"cannot open {self.source}; retrying in {self.back_off.delay:.1f} s")
            return False
        self.back_off.succeeded()
        self._set_state("streaming", f"{self.source} at {self.fps:.1f} fps")
        return True

    def _grab(self) -> np.ndarray | None:
        ok, frame = self._capture.read()
        if not ok or frame is None:
            return None
        self.frames_read += 1
        self._frames_this_open += 1
        return frame

    def read(self) -> np.ndarray | None:
        if self.finished:
            return None
        now = time.monotonic()
        if self._capture is None and not self._reopen(now):
            return None
        frame = self._grab()
        if frame is None:
            delivered = self._frames_this_open
            self._close()
            if not self.device and not self.loop:
                self.finished = True
                self._set_state("finished", f"end of {self.source} after {self.frames_read} frames")
                return None
            # a looping file that played to its end starts again at once (also picking up a
            # replaced file), ONCE: a file that opens but decodes nothing waits for the back-off
            if not self.device and delivered > 0 and self._reopen(now):
                frame = self._grab()
            if frame is None:
                self._close()
                self.back_off.failed(now)
                self._set_state("waiting", f"{self.source} stopped delivering frames; reopening in "
                                           f"{self.back_off.delay:.1f} s")
                return None
        if self.max_width and frame.shape[1] > self.max_width:
            height = round(frame.shape[0] * self.max_width / frame.shape[1])
            frame = cv2.resize(frame, (self.max_width, height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._close()
        self._set_state("closed")
