"""The evaluation report says when a class had no samples instead of scoring it."""
from __future__ import annotations

import numpy as np

from dance_recognition.training.evaluation import classification_report, recall_summary


def test_a_class_without_samples_is_named_not_counted_as_recalled() -> None:
    logits = np.array([[3.0, 0, 0], [0, 3.0, 0], [3.0, 0, 0]])
    labels = np.array([0, 1, 1])  # nobody performed "bow"
    report = classification_report(logits, labels, ["salsa", "tango", "bow"])
    assert report["per_class"]["bow"]["recall"] is None and report["per_class"]["bow"]["support"] == 0
    assert report["classes_without_samples"] == ["bow"]
    assert report["mean_class_recall"] == 0.75
    assert recall_summary(report) == "mean class recall 75.0% over 2 of 3 classes (no samples of bow)"
    full = classification_report(logits[:2], labels[:2], ["salsa", "tango"])
    assert recall_summary(full) == "mean class recall 100.0%"
