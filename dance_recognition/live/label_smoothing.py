"""Turning a stream of per-window class probabilities into labels a robot can act on.

Probabilities are smoothed per person with an exponential moving average (``alpha`` = weight of
the newest prediction). The published label changes only when another class beats the current
one by ``hysteresis`` (no flicker between two close classes). The label is then decided by the
open-set rule (``models.open_set``): below ``threshold``, or for a background class (standing,
walking...), the answer is an explicit unknown label rather than silence, so a subscriber can tell
"no move" from "no data".
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dance_recognition.models.open_set import UNKNOWN, OpenSetRule


@dataclass
class Decision:
    label: str
    confidence: float
    probabilities: np.ndarray  # smoothed


@dataclass
class LabelSmoother:
    classes: list[str]
    alpha: float = 0.5
    threshold: float = 0.5
    hysteresis: float = 0.1
    unknown_label: str = UNKNOWN
    background: frozenset[str] = frozenset()  # classes meaning "no move" (see models.open_set)
    _state: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)  # track -> (probs, current class)

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1 or not 0 <= self.threshold <= 1 or not 0 <= self.hysteresis < 1:
            raise ValueError("alpha in (0, 1], threshold in [0, 1], hysteresis in [0, 1)")

    def update(self, track_id: int, probabilities: np.ndarray) -> Decision:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        previous = self._state.get(track_id)
        if previous is None:
            smoothed, current = probabilities, -1
        else:
            smoothed = self.alpha * probabilities + (1 - self.alpha) * previous[0]
            current = previous[1]
        best = int(smoothed.argmax())
        if current < 0 or best == current or smoothed[best] >= smoothed[current] + self.hysteresis:
            current = best
        self._state[track_id] = (smoothed, current)
        confidence = float(smoothed[current])
        rule = OpenSetRule(self.classes, self.background, self.threshold, self.unknown_label)
        label = rule.label(current, confidence)
        return Decision(label=label, confidence=confidence, probabilities=smoothed)

    def forget(self, track_id: int) -> None:
        self._state.pop(track_id, None)
