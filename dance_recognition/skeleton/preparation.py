"""From stored or live keypoints to the network's input, one way for training and inference.

A model is trained on one layout, normalisation, window and number of persons (all stored in its
checkpoint). ``InputSpec.prepare`` takes keypoints as datasets store them ((C, T, V, M) in pixel
or kinetics coordinates) and ``prepare_sequence`` takes live (M, T, V, 3) pixel sequences; both
convert the layout when the model's differs and apply the named normalisation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.skeleton.arrays import channels_first, most_confident_first, persons_first
from dance_recognition.skeleton.conversion import convert_keypoints
from dance_recognition.skeleton.layouts import get_layout
from dance_recognition.skeleton.normalization import NORMALIZATIONS, normalize
from dance_recognition.skeleton.windows import fit_window


class InputMismatchError(DanceRecognitionError, ValueError):
    """Data that this model cannot take (layout, coordinates or shape), with the fix."""


def check_joint_count(sequence: np.ndarray, layout: str) -> None:
    """(..., V, 3) keypoints must have the joints of ``layout`` (a registered one)."""
    try:
        expected = get_layout(layout).num_joints
    except KeyError as error:
        raise InputMismatchError(error.args[0]) from None
    if sequence.ndim < 2 or sequence.shape[-2:] != (expected, 3):
        raise InputMismatchError(
            f"keypoints of shape {sequence.shape} do not have the {expected} joints (x, y, confidence) of layout "
            f"{layout}; give the layout they were recorded in")


@dataclass(frozen=True)
class InputSpec:
    layout: str  # the model's layout
    normalization: str
    window: int
    persons: int

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            known = ", ".join(NORMALIZATIONS)
            raise InputMismatchError(f"unknown normalisation {self.normalization!r}; known: {known}")

    def prepare_sequence(self, sequence: np.ndarray, layout: str, image_size: tuple[int, int] | None) -> np.ndarray:
        """(M, T, V, 3) pixels + confidence (missing: confidence 0) -> (C, T, V', M') float32."""
        sequence = np.asarray(sequence, np.float32)
        check_joint_count(sequence, layout)
        if layout != self.layout:
            sequence = convert_keypoints(sequence, layout, self.layout)
        data = normalize(self.normalization, sequence, image_size, self.layout)
        return self.fit_persons(data)

    def prepare(self, data: np.ndarray, layout: str, coordinates: str, image_size: tuple[int, int] | None
                ) -> np.ndarray:
        """A stored (C, T, V, M) sample -> the model's (C, T, V', M') input (time not yet windowed)."""
        if coordinates == "pixels":
            return self.prepare_sequence(persons_first(data), layout, image_size)
        if coordinates != "kinetics" or self.normalization != "kinetics":
            raise InputMismatchError(
                f"data in {coordinates} coordinates cannot feed a model with {self.normalization} normalisation; "
                "train with data.normalization=kinetics for already-normalised (reference) data")
        if layout != self.layout:
            sequence = convert_keypoints(persons_first(data), layout, self.layout)
            data = channels_first(np.nan_to_num(sequence))
        return self.fit_persons(np.ascontiguousarray(data, dtype=np.float32))

    def fit_persons(self, data: np.ndarray) -> np.ndarray:
        persons = data.shape[3]
        if persons == self.persons:
            return data
        if persons > self.persons:
            order = most_confident_first(persons_first(data)[..., 2])[: self.persons]
            return np.ascontiguousarray(data[..., order])
        return np.concatenate([data, np.zeros((*data.shape[:3], self.persons - persons), np.float32)], axis=3)

    def fit_time(self, data: np.ndarray, crop: str = "center", pad: str = "zeros") -> np.ndarray:
        """(C, T, V, M) -> (C, window, V, M) for evaluation and prediction."""
        return np.ascontiguousarray(fit_window(data.transpose(1, 0, 2, 3), self.window, pad=pad, crop=crop)
                                    .transpose(1, 0, 2, 3))
