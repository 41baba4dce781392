"""Generated dance moves: skeletons whose classes differ by how they MOVE.

Used where no real labelled dance data can be shipped: the learnability test, the training
benchmark, and the demo model of the live graph (its checkpoint says it was trained on this).
Each move is a periodic joint-angle pattern of a COCO-18 stick figure (forward kinematics from
the neck), drawn at a random place, size, tempo and phase, with pixel noise, occasional missing
joints and realistic confidences. A single frame does not tell the classes apart (every move
passes through the rest pose); the motion over a window does.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dance_recognition.data.dataset import DatasetWriter, SampleInfo
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18

# segment lengths in torso units (neck to hip centre = 0.9)
UPPER_ARM, FOREARM, THIGH, SHIN = 0.3, 0.28, 0.45, 0.43
SHOULDER_HALF, HIP_HALF = 0.2, 0.12


def _limb(origin: np.ndarray, angles: tuple[np.ndarray, np.ndarray], lengths: tuple[float, float]):
    """Two-segment chain; angles in radians from straight down, x to the image right."""
    first = origin + lengths[0] * np.stack([np.sin(angles[0]), np.cos(angles[0])], -1)
    second = first + lengths[1] * np.stack([np.sin(angles[1]), np.cos(angles[1])], -1)
    return first, second


def _pose(t: np.ndarray, arm_r, arm_l, elbow_r, elbow_l, leg_r, leg_l, knee_r, knee_l, drop) -> np.ndarray:
    """(T, 18, 2) COCO-18 positions in torso units, neck at (0, drop)."""
    frames = len(t)
    neck = np.stack([np.zeros(frames), drop], -1)
    joints = np.zeros((frames, 18, 2))
    joints[:, 1] = neck
    joints[:, 0] = neck + np.array([0, -0.35])
    joints[:, 14], joints[:, 15] = neck + np.array([-0.05, -0.4]), neck + np.array([0.05, -0.4])
    joints[:, 16], joints[:, 17] = neck + np.array([-0.1, -0.37]), neck + np.array([0.1, -0.37])
    shoulder_r, shoulder_l = neck + np.array([-SHOULDER_HALF, 0]), neck + np.array([SHOULDER_HALF, 0])
    joints[:, 2], joints[:, 5] = shoulder_r, shoulder_l
    joints[:, 3], joints[:, 4] = _limb(shoulder_r, (-arm_r, -arm_r - elbow_r), (UPPER_ARM, FOREARM))
    joints[:, 6], joints[:, 7] = _limb(shoulder_l, (arm_l, arm_l + elbow_l), (UPPER_ARM, FOREARM))
    hip_r, hip_l = neck + np.array([-HIP_HALF, 0.9]), neck + np.array([HIP_HALF, 0.9])
    joints[:, 8], joints[:, 11] = hip_r, hip_l
    joints[:, 9], joints[:, 10] = _limb(hip_r, (-leg_r, -leg_r + knee_r), (THIGH, SHIN))
    joints[:, 12], joints[:, 13] = _limb(hip_l, (leg_l, leg_l - knee_l), (THIGH, SHIN))
    return joints


def _zeros(t):
    return np.zeros_like(t)


def _rest_arm(t):
    return np.full_like(t, 0.15)


def wave(t, phase):
    swing = 0.5 * np.sin(t + phase)
    up = np.full_like(t, 1.4)
    return _pose(t, up, up, swing + 0.4, -swing + 0.4, _zeros(t) + 0.05, _zeros(t) + 0.05, _zeros(t), _zeros(t),
                 _zeros(t))


def raise_arms(t, phase):
    angle = 0.2 + 1.3 * (1 - np.cos(t + phase))  # down (0.2) to overhead (2.8)
    return _pose(t, angle, angle, _zeros(t), _zeros(t), _zeros(t) + 0.05, _zeros(t) + 0.05, _zeros(t), _zeros(t),
                 _zeros(t))


def squat(t, phase):
    depth = 0.5 * (1 - np.cos(t + phase))  # 0..1
    knee = 1.2 * depth
    return _pose(t, _rest_arm(t) + 0.9 * depth, _rest_arm(t) + 0.9 * depth, _zeros(t), _zeros(t),
                 0.05 + 0.35 * depth, 0.05 + 0.35 * depth, knee, knee, 0.35 * depth)


def arm_circles(t, phase):
    swing = np.pi / 2 + 0.5 * np.sin(t + phase)
    bend = 0.5 * np.cos(t + phase)
    return _pose(t, swing, swing, bend, bend, _zeros(t) + 0.05, _zeros(t) + 0.05, _zeros(t), _zeros(t), _zeros(t))


def march(t, phase):
    right = 0.6 * np.clip(np.sin(t + phase), 0, None)
    left = 0.6 * np.clip(np.sin(t + phase + np.pi), 0, None)
    return _pose(t, _rest_arm(t) + left, _rest_arm(t) + right, _zeros(t), _zeros(t), -right * 1.2 + 0.05,
                 -left * 1.2 + 0.05, 1.8 * right, 1.8 * left, _zeros(t))


MOVES: dict[str, Callable] = {"wave": wave, "raise_arms": raise_arms, "squat": squat, "arm_circles": arm_circles,
                              "march": march}


def generate_move(move: str, frames: int, rng: np.random.Generator, image_size: tuple[int, int] = (640, 480),
                  fps: float = 30.0, missing_rate: float = 0.03) -> np.ndarray:
    """(T, 18, 3) pixel keypoints + confidence of one performance (missing: zeros)."""
    width, height = image_size
    tempo = rng.uniform(0.5, 1.2)  # cycles per second
    t = 2 * np.pi * tempo * np.arange(frames) / fps
    joints = MOVES[move](t, rng.uniform(0, 2 * np.pi))
    scale = rng.uniform(0.18, 0.3) * height  # pixels per torso unit
    centre = np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.2, 0.35) * height])
    drift = rng.normal(0, 0.002 * width, (frames, 1, 2)).cumsum(axis=0)  # the performer sways a little
    pixels = centre + joints * scale + drift + rng.normal(0, 0.012 * scale, joints.shape)
    confidence = rng.uniform(0.6, 1.0, (frames, 18))
    confidence[rng.random((frames, 18)) < missing_rate] = 0.0
    keypoints = np.concatenate([pixels, confidence[..., None]], -1).astype(np.float32)
    keypoints[confidence == 0] = 0.0
    return keypoints


def write_synthetic_dataset(root: str | Path, samples_per_class: int = 40, frames: int = 48,
                            moves: tuple[str, ...] = tuple(MOVES), val_fraction: float = 0.25, seed: int = 0,
                            image_size: tuple[int, int] = (640, 480)) -> Path:
    """A dataset of generated moves in pixel coordinates (layout openpose_coco_18, one person)."""
    rng = np.random.default_rng(seed)
    with DatasetWriter(root, OPENPOSE_COCO_18.name, list(moves), frames=frames, persons=1) as writer:
        for label, move in enumerate(moves):
            for index in range(samples_per_class):
                keypoints = generate_move(move, frames, rng, image_size)
                split = "val" if index < round(samples_per_class * val_fraction) else "train"
                writer.add(keypoints.transpose(2, 0, 1)[..., None],
                           SampleInfo(label=label, split=split, source=f"synthetic:{move}:{index}", end_frame=frames,
                                      image_size=image_size, num_frames=frames))
    return Path(root)
