"""Errors of the bag tools: each names the bag (or file) and what to do about it."""
from __future__ import annotations

from dance_recognition.errors import DanceRecognitionError


class BagError(DanceRecognitionError):
    """A bag that cannot be read, written or converted as asked."""


class LabelError(DanceRecognitionError):
    """Label segments (label topic, CSV, classes file) that contradict each other or the bag."""
