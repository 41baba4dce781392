"""The "no move" rule shared by predict and the action node, and the generated non-dance classes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from dance_recognition.data.synthetic import generate_move
from dance_recognition.live.label_smoothing import LabelSmoother
from dance_recognition.models.checkpoint import ModelCard, load_checkpoint, save_checkpoint
from dance_recognition.models.open_set import OpenSetRule
from dance_recognition.models.stgcn import STGCN, STGCNConfig

CLASSES = ["wave", "spin", "standing", "walking"]


def test_rule_answers_unknown_for_background_classes_and_low_confidence() -> None:
    rule = OpenSetRule(CLASSES, {"standing", "walking"}, threshold=0.5)
    assert rule.decide(np.array([0.7, 0.1, 0.1, 0.1])) == ("wave", pytest.approx(0.7))
    assert rule.decide(np.array([0.1, 0.1, 0.7, 0.1]))[0] == "unknown"  # confidently NOT dancing
    assert rule.decide(np.array([0.4, 0.3, 0.2, 0.1]))[0] == "unknown"  # not sure
    assert OpenSetRule(CLASSES).decide(np.array([0.1, 0.1, 0.7, 0.1]))[0] == "standing"  # no background named
    with pytest.raises(ValueError, match="threshold"):
        OpenSetRule(CLASSES, threshold=1.5)


def test_smoother_of_the_action_node_applies_the_same_rule() -> None:
    smoother = LabelSmoother(CLASSES, alpha=1.0, threshold=0.5, background=frozenset({"standing", "walking"}))
    assert smoother.update(1, np.array([0.1, 0.1, 0.1, 0.7])).label == "unknown"
    decision = smoother.update(1, np.array([0.8, 0.1, 0.05, 0.05]))
    assert decision.label == "wave" and decision.confidence == pytest.approx(0.8)


def _biased_checkpoint(path, favourite: str, background: list[str]) -> None:
    """A model whose every answer is ``favourite`` (zero head weights, one large bias)."""
    model = STGCN(STGCNConfig(num_classes=len(CLASSES), channels=(8, 8), strides=(1, 1)))
    with torch.no_grad():
        model.fcn.weight.zero_()
        model.fcn.bias.copy_(torch.tensor([8.0 if name == favourite else 0.0 for name in CLASSES]))
    save_checkpoint(path, model, ModelCard(config=model.config, classes=CLASSES, normalization="body_centred",
                                           window=16, max_persons=1, extra={"background_classes": background}))


def test_predict_says_unknown_for_a_background_class(tmp_path) -> None:
    np.save(tmp_path / "walk.npy", generate_move("march", 16, np.random.default_rng(0)))
    _biased_checkpoint(tmp_path / "walk.pt", "walking", ["standing", "walking"])
    assert load_checkpoint(tmp_path / "walk.pt").card.background_classes == {"standing", "walking"}
    _biased_checkpoint(tmp_path / "spin.pt", "spin", ["standing", "walking"])
    answers = {}
    for name in ("walk", "spin"):
        result = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "predict", str(tmp_path / f"{name}.pt"),
                                 str(tmp_path / "walk.npy")], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        answers[name] = result.stdout.strip()
    assert answers["walk"].startswith("unknown  (walking 99.") and answers["spin"].startswith("spin  (spin 99.")
    unsure = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "predict", str(tmp_path / "spin.pt"),
                             str(tmp_path / "walk.npy"), "--threshold", "1"], capture_output=True, text=True,
                            timeout=300)
    assert unsure.stdout.startswith("unknown  (spin 99.")
