"""Which torch device a ``device`` setting means, for training, evaluation and the nodes alike."""
from __future__ import annotations

import torch

from dance_recognition.errors import DanceRecognitionError


class DeviceError(DanceRecognitionError):
    """A device that is not available here."""


def resolve_device(name: str) -> torch.device:
    """``auto`` = CUDA when torch sees a GPU, else CPU; ``cuda``/``cuda:N`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"device {name!r} asked for, but torch sees no CUDA device; use cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r}; use cpu, cuda, cuda:N or auto") from None
