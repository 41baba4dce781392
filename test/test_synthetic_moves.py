"""The generated moves: nine dances and three ways of not dancing, with varied performers."""
from __future__ import annotations

import numpy as np
import pytest

from dance_recognition.data.synthetic import BACKGROUND_MOVES, DANCE_MOVES, MOVES, generate_move
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18


def test_generator_has_nine_dances_and_three_ways_of_not_dancing() -> None:
    assert len(DANCE_MOVES) >= 8 and set(BACKGROUND_MOVES) == {"standing", "walking", "idle"}
    assert not set(DANCE_MOVES) & set(BACKGROUND_MOVES) and set(MOVES) <= set(DANCE_MOVES)


def test_without_variation_the_performer_faces_the_camera() -> None:
    """The canonical form replayed by tests and examples: shoulders always in frontal order."""
    rng = np.random.default_rng(1)
    right, left = OPENPOSE_COCO_18.index("right_shoulder"), OPENPOSE_COCO_18.index("left_shoulder")
    frames = [generate_move(move, 4, rng, missing_rate=0.0)[0] for move in DANCE_MOVES if move != "spin"]
    assert all(frame[right, 0] < frame[left, 0] for frame in frames)


def test_generated_people_vary_in_size_and_facing() -> None:
    rng = np.random.default_rng(0)
    right, left, neck = (OPENPOSE_COCO_18.index(n) for n in ("right_shoulder", "left_shoulder", "neck"))
    hips = [OPENPOSE_COCO_18.index(n) for n in ("right_hip", "left_hip")]
    widths, torsos, away = [], [], 0
    for _ in range(200):
        frame = generate_move("standing", 4, rng, missing_rate=0.0, variation=True)[0]
        widths.append(abs(frame[left, 0] - frame[right, 0]))
        torsos.append(np.linalg.norm(frame[hips, :2].mean(0) - frame[neck, :2]))
        away += frame[right, 0] > frame[left, 0]  # the right shoulder on the image's right: back to the camera
    ratio = np.array(widths) / np.array(torsos)
    assert np.ptp(torsos) > np.min(torsos)  # near and far: more than twice the size
    assert ratio.min() < 0.75 * ratio.max()  # turned away from straight on
    assert 0.03 < away / 200 < 0.25
    with pytest.raises(ValueError, match="unknown generated move 'tango'"):
        generate_move("tango", 4, rng)
