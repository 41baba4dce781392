"""The two array conventions of keypoint sequences, and the rules that read them, written once.

Datasets and the network take ``(C, T, V, M)`` (channels x, y, confidence first; the ST-GCN
reference's layout); poses, windows and normalisation work on ``(M, T, V, C)`` (one person's
``(T, V, 3)`` track per row). Converting between them by a bare ``transpose(3, 1, 2, 0)`` in many
modules hid which way each one went; these helpers name it.
"""
from __future__ import annotations

import numpy as np


def channels_first(sequence: np.ndarray) -> np.ndarray:
    """(M, T, V, C) person-major keypoints -> (C, T, V, M), the dataset / network layout."""
    return sequence.transpose(3, 1, 2, 0)


def persons_first(data: np.ndarray) -> np.ndarray:
    """(C, T, V, M) dataset / network layout -> (M, T, V, C) person-major keypoints."""
    return data.transpose(3, 1, 2, 0)


def most_confident_first(confidence: np.ndarray) -> np.ndarray:
    """Indices of people by total joint confidence, highest first (ties keep their order).

    ``confidence``: (M, T, V). The one rule for "the main person" of a sequence: the person seen
    best over the whole window (more frames and surer joints both count)."""
    return np.argsort(-np.nan_to_num(confidence).sum(axis=(1, 2)), kind="stable")


def top_k(probabilities: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores of a (classes,) array, highest first (ties: lower index
    first). ``k`` larger than the number of classes gives them all."""
    return np.argsort(-np.asarray(probabilities), kind="stable")[: max(int(k), 0)]
