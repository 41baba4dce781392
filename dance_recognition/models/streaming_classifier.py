"""A checkpoint run as a stream: per-frame input preparation and the (TorchScript) streaming step.

The per-frame counterpart of ``ActionClassifier``: built from a checkpoint alone, it prepares one
frame of several persons at a time (layout conversion + the model's normalisation) and advances
their streaming states in one batched call. Per-person bookkeeping (who has which state, resets,
time-outs) lives in ``live.person_streams``.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import torch

from dance_recognition.models.checkpoint import load_checkpoint
from dance_recognition.models.classifier import CheckpointInputs
from dance_recognition.models.device import resolve_device
from dance_recognition.models.stgcn import STGCNConfig
from dance_recognition.models.streaming import StreamingSTGCN, script_streaming
from dance_recognition.skeleton.conversion import convert_keypoints
from dance_recognition.skeleton.normalization import body_centred, normalize, torso_lengths

log = logging.getLogger(__name__)


def supports_exact_streaming(temporal_padding: bool) -> bool:
    """Only a network without temporal zero-padding streams exactly (models/streaming.py)."""
    return not temporal_padding


MODES = ("auto", "window", "streaming")


def stream_window(config: STGCNConfig, window: int) -> int:
    """The window a stream of this network runs for a requested one: a padded network was trained
    on windows that may be shorter than its receptive field, so it gets at least that."""
    return max(window, config.receptive_field) if config.temporal_padding else window


def resolve_mode(checkpoint: str | os.PathLike, mode: str) -> str:
    """``auto``: ``streaming`` when the checkpoint streams exactly (no temporal padding), else
    ``window``; ``window``/``streaming`` as asked (a padded checkpoint streams approximately)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode != "auto":
        return mode
    padded = load_checkpoint(checkpoint, device="cpu").model.config.temporal_padding
    return "streaming" if supports_exact_streaming(padded) else "window"


class StreamingClassifier(CheckpointInputs):
    """``every``: frames between predictions; ``window``: frames per prediction (0: the
    checkpoint's, raised to the receptive field for padded checkpoints trained on shorter windows)."""

    def __init__(self, checkpoint: str | os.PathLike, device: str = "cpu", every: int = 1, window: int = 0,
                 script: bool = True, classes: list[str] | None = None) -> None:
        self.device = resolve_device(device)
        loaded = load_checkpoint(checkpoint, device="cpu", classes=classes)
        self.card, self.model_id = loaded.card, loaded.model_id
        config = loaded.model.config
        self.exact = supports_exact_streaming(config.temporal_padding)
        requested = stream_window(config, window or self.card.window)
        self.spec = self.card.input_spec()
        model = StreamingSTGCN(loaded.model, requested, every=every, persons=self.spec.persons).to(self.device)
        self.model = model
        self.plan = model.plan
        self.step_function = model
        if script:
            try:  # frozen TorchScript of the step: fewer interpreter round trips per frame
                self.step_function = script_streaming(model)
            except RuntimeError as error:  # pragma: no cover - scripting is tested in test_streaming
                log.warning("TorchScript of the streaming step failed (%s); running it eagerly", error)
            self._warm_up()
        if not self.exact:
            log.warning("%s was trained WITH temporal zero-padding: streaming approximates its window outputs "
                        "(see README, Streaming); train with model.temporal_padding=false for exact streaming",
                        checkpoint)

    def _warm_up(self) -> None:
        """TorchScript optimises a function on its first calls (seconds on a loaded CPU): do that
        now, for every phase and for one and two persons, not while the first people are seen."""
        zeros = torch.zeros(1, self.model.in_channels, self.model.num_joints, device=self.device)
        for batch in (1, 2):
            state = self.initial_state(batch)
            for count in range(3 * self.plan.every):
                _probabilities, state = self.step(zeros.expand(batch, -1, -1), count, state)

    def convert(self, keypoints: np.ndarray, layout: str) -> np.ndarray:
        """(B, V, 3) pixel keypoints of ``layout`` -> the model's layout (missing: confidence 0)."""
        keypoints = np.asarray(keypoints, np.float32)
        if layout != self.spec.layout:
            keypoints = convert_keypoints(keypoints[:, None], layout, self.spec.layout)[:, 0]
        return keypoints

    def torso_lengths(self, keypoints: np.ndarray) -> np.ndarray:
        """(B,) torso length per person in converted keypoints (NaN when unseen); the running
        median of these is the body_centred scale of a stream."""
        return torso_lengths(keypoints[:, None], self.spec.layout)[:, 0]

    def prepare(self, keypoints: np.ndarray, image_size: tuple[int, int] | None,
                scales: np.ndarray | None = None) -> torch.Tensor:
        """(B, V, 3) converted keypoints -> (B, C, V) network input on the device. ``scales``: the
        body_centred scale per person (ignored by other normalisations)."""
        sequence = keypoints[:, None]  # persons as M, one frame
        if self.spec.normalization == "body_centred":
            data = body_centred(sequence, image_size, self.spec.layout, scale=scales)
        else:
            data = normalize(self.spec.normalization, sequence, image_size, self.spec.layout)
        return torch.from_numpy(np.ascontiguousarray(data[:, 0].transpose(2, 0, 1))).to(self.device)

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        return self.model.initial_state(batch)

    @torch.inference_mode()
    def step(self, frames: torch.Tensor, count: int, state: list[torch.Tensor]
             ) -> tuple[np.ndarray | None, list[torch.Tensor]]:
        """(B, C, V) prepared frames -> (B, classes) probabilities when a prediction is due, else None.
        ``count``: frames the batch's ``state`` took in before (StreamingSTGCN.step); the state is
        updated in place."""
        logits, state = self.step_function.step(frames, count, state)
        if logits is None:
            return None, state
        return torch.softmax(logits.float(), dim=1).cpu().numpy(), state
