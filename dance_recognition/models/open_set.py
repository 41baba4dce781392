"""The "no move" rule: when a model's answer is a dance, and when it is ``unknown``.

One rule for ``predict`` and the action node, so the offline tool and the robot agree:

1. the most probable class is chosen;
2. if it is a BACKGROUND class (a model trained to recognise "not dancing": standing, walking,
   idling; listed in its checkpoint as ``background_classes``), the answer is ``unknown``;
3. if its probability is below ``threshold``, the answer is ``unknown`` too (not sure).

A model without background classes can only say "unsure" (rule 3): anyone in view is pushed
towards some dance. Training with background classes (``data.background_classes``) gives the
model a way to say "no move" with confidence; the packaged demo model has three (standing,
walking, idle). The rule judges the answer, not the motion: a body held still in a dance-like
posture (a lunge, arms spread) can still be named as a dance (README, "The packaged demo model").
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

UNKNOWN = "unknown"  # = ActionLabel.UNKNOWN_LABEL
BACKGROUND_KEY = "background_classes"  # in a checkpoint's extra metadata
DEFAULT_THRESHOLD = 0.5


def background_classes(extra: Mapping, classes: Sequence[str]) -> frozenset[str]:
    """The background classes a checkpoint's metadata names (only names the model has)."""
    names = extra.get(BACKGROUND_KEY) or []
    return frozenset(str(name) for name in names if str(name) in classes)


@dataclass(frozen=True)
class OpenSetRule:
    classes: Sequence[str]
    background: Iterable[str] = field(default_factory=frozenset)
    threshold: float = DEFAULT_THRESHOLD
    unknown_label: str = UNKNOWN

    def __post_init__(self) -> None:
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        object.__setattr__(self, "background", frozenset(self.background))

    def label(self, index: int, confidence: float) -> str:
        """The published label for class ``index`` held with ``confidence``."""
        name = self.classes[index]
        if name in self.background or confidence < self.threshold:
            return self.unknown_label
        return name

    def decide(self, probabilities: np.ndarray) -> tuple[str, float]:
        """(label, probability of the most probable class) for one probability vector."""
        index = int(np.argmax(probabilities))
        confidence = float(probabilities[index])
        return self.label(index, confidence), confidence
