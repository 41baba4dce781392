"""The one interface through which tools and nodes run a trained model.

``ActionClassifier`` is built from a checkpoint alone (layout, normalisation, window, persons and
class names travel in it) and answers "which move, how sure" for keypoint sequences in PIXELS of
any layout it can convert. It runs the BatchNorm-folded network, frozen with TorchScript, in
inference mode on the chosen device. A streaming (per-frame) implementation can replace it behind the same two methods.
"""
from __future__ import annotations

import dataclasses
import logging
import os

import numpy as np
import torch

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.models.checkpoint import CheckpointError, load_checkpoint
from dance_recognition.models.device import resolve_device
from dance_recognition.skeleton.conversion import conversion_plan
from dance_recognition.skeleton.preparation import InputMismatchError

log = logging.getLogger(__name__)


class NoPersonError(DanceRecognitionError):
    """A sequence without a single detected joint: there is nothing to classify (a network
    still answers for all-zero input, confidently and meaninglessly)."""


def check_has_person(sequence: np.ndarray) -> None:
    """Raises NoPersonError for (M, T, V, 3) keypoints with no frame or no joint of confidence > 0."""
    if sequence.shape[1] == 0:
        raise NoPersonError("the sequence has no frames; nothing to classify")
    if not (np.nan_to_num(sequence[..., 2]) > 0).any():
        raise NoPersonError(f"no joint is detected in any of the {sequence.shape[1]} frames (every confidence is 0); "
                            "nothing to classify")


class CheckpointInputs:
    """What every inference form (window or streaming) answers from its checkpoint alone: the
    class names, and whether keypoints of a layout can feed it. Subclasses set ``card``/``spec``."""

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def accepts(self, layout: str) -> None:
        """Raises InputMismatchError when keypoints of ``layout`` cannot feed this model."""
        if layout != self.spec.layout:
            try:
                conversion_plan(layout, self.spec.layout)
            except (ValueError, KeyError) as error:
                reason = error.args[0] if isinstance(error, KeyError) else error
                raise InputMismatchError(f"this model takes {self.spec.layout} keypoints: {reason}") from None


class ActionClassifier(CheckpointInputs):
    def __init__(self, checkpoint: str | os.PathLike, device: str = "cpu", classes: list[str] | None = None) -> None:
        self.device = resolve_device(device)
        loaded = load_checkpoint(checkpoint, device=self.device, classes=classes)
        self.card, self.model_id = loaded.card, loaded.model_id
        fused = loaded.model.fused().to(self.device).eval()
        try:  # frozen TorchScript: the fastest form measured (benchmarks/stgcn_speed.py)
            self.network = torch.jit.freeze(torch.jit.script(fused))
        except RuntimeError as error:  # pragma: no cover - scripting is tested in test_stgcn
            log.warning("TorchScript freeze failed (%s); running the eager fused model", error)
            self.network = fused
        self.spec = self.card.input_spec()
        config = loaded.model.config
        if not config.temporal_padding:  # the frames an unpadded network reads: the newest ones, on its stride grid
            try:
                self.spec = dataclasses.replace(self.spec, window=config.used_frames(self.spec.window))
            except ValueError as error:
                raise CheckpointError(f"{checkpoint}: {error}") from None

    @torch.inference_mode()
    def predict_batch(self, inputs: np.ndarray) -> np.ndarray:
        """(N, C, T, V, M) prepared inputs -> (N, classes) probabilities."""
        tensor = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).to(self.device)
        return torch.softmax(self.network(tensor).float(), dim=1).cpu().numpy()

    def classify(self, sequence: np.ndarray, layout: str, image_size: tuple[int, int] | None) -> np.ndarray:
        """(M, T, V, 3) pixel keypoints (missing: confidence 0) -> (classes,) probabilities.
        The sequence is fitted to the model's window keeping the newest frames. Raises
        NoPersonError when no joint is detected in it."""
        self.accepts(layout)
        check_has_person(sequence)
        data = self.spec.prepare_sequence(sequence, layout, image_size)
        data = self.spec.fit_time(data, crop="newest")
        return self.predict_batch(data[None])[0]
