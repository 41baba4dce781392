"""The array conventions and ranking rules written once (skeleton.arrays)."""
from __future__ import annotations

import numpy as np
import pytest

from dance_recognition.cli import main
from dance_recognition.skeleton.arrays import channels_first, most_confident_first, persons_first, top_k


def test_axis_conventions_round_trip_and_name_their_direction() -> None:
    sequence = np.arange(2 * 5 * 18 * 3, dtype=np.float32).reshape(2, 5, 18, 3)  # (M, T, V, C)
    data = channels_first(sequence)
    assert data.shape == (3, 5, 18, 2) and data[2, 4, 17, 1] == sequence[1, 4, 17, 2]
    np.testing.assert_array_equal(persons_first(data), sequence)


def test_the_most_confident_person_and_top_k() -> None:
    confidence = np.zeros((3, 4, 2))
    confidence[1] = 0.9
    confidence[2, :2] = 1.0
    confidence[0, 0, 0] = np.nan  # a NaN never makes a person win
    assert list(most_confident_first(confidence)) == [1, 2, 0]
    assert list(top_k(np.array([0.1, 0.5, 0.5, 0.2]), 3)) == [1, 2, 3]
    assert list(top_k(np.array([0.3, 0.7]), 10)) == [1, 0]


def test_model_means_an_action_checkpoint_and_pose_model_the_pose_variant(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["extract", "videos", "out", "--model", "COCO"])
    assert "unrecognized arguments: --model" in capsys.readouterr().err
