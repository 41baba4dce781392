"""Generated dance moves, and people NOT dancing: skeletons whose classes differ by how they MOVE.

Used where no real labelled dance data can be shipped: the learnability tests, the training and
few-shot benchmarks, and the demo model of the live graph (its checkpoint says it was trained on
this). Each class is a joint-angle pattern of a COCO-18 stick figure (forward kinematics from the
neck, in 3-D: x to the image right, y down, z towards the camera), performed at a random tempo and
phase, drawn at a random place and size with pixel noise, occasional missing joints and
realistic confidences; with ``variation`` also turned to a random facing (sometimes away from the
camera), with a random body width, seen by a camera with a random roll and tilt. A single frame does not tell the
dances apart (every move passes through the rest pose); the motion over a window does.

- ``DANCE_MOVES`` (9): wave, raise_arms, squat, arm_circles, march, side_step, spin,
  clap_overhead, jumping_jack.
- ``BACKGROUND_MOVES`` (3), a person who is not dancing: standing (still, breathing, swaying),
  walking (walking by or towards the camera) and idle (fidgeting: weight shifts, a hand to the
  face, arms crossed). A model trained with them as background classes answers "no move" for
  them (see ``models.open_set``).
- ``MOVES``: the five original moves, the default of ``write_synthetic_dataset`` (small test sets).
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
R_SHOULDER, R_ELBOW, R_WRIST, L_SHOULDER, L_ELBOW, L_WRIST = 2, 3, 4, 5, 6, 7
R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = 8, 9, 10, 11, 12, 13


def _limb(origin: np.ndarray, angles: tuple[np.ndarray, np.ndarray], lengths: tuple[float, float]):
    """Two-segment chain; angles in radians from straight down, x to the image right."""
    first = origin + lengths[0] * np.stack([np.sin(angles[0]), np.cos(angles[0])], -1)
    second = first + lengths[1] * np.stack([np.sin(angles[1]), np.cos(angles[1])], -1)
    return first, second


def _pose(t: np.ndarray, arm_r, arm_l, elbow_r, elbow_l, leg_r, leg_l, knee_r, knee_l, drop) -> np.ndarray:
    """(T, 18, 3) COCO-18 positions in torso units, neck at (0, drop, 0), every limb in the
    frontal plane (z = 0)."""
    frames = len(t)
    neck = np.stack([np.zeros(frames), drop], -1)
    joints = np.zeros((frames, 18, 2))
    joints[:, 1] = neck
    joints[:, 0] = neck + np.array([0, -0.35])
    joints[:, 14], joints[:, 15] = neck + np.array([-0.05, -0.4]), neck + np.array([0.05, -0.4])
    joints[:, 16], joints[:, 17] = neck + np.array([-0.1, -0.37]), neck + np.array([0.1, -0.37])
    shoulder_r, shoulder_l = neck + np.array([-SHOULDER_HALF, 0]), neck + np.array([SHOULDER_HALF, 0])
    joints[:, R_SHOULDER], joints[:, L_SHOULDER] = shoulder_r, shoulder_l
    joints[:, R_ELBOW], joints[:, R_WRIST] = _limb(shoulder_r, (-arm_r, -arm_r - elbow_r), (UPPER_ARM, FOREARM))
    joints[:, L_ELBOW], joints[:, L_WRIST] = _limb(shoulder_l, (arm_l, arm_l + elbow_l), (UPPER_ARM, FOREARM))
    hip_r, hip_l = neck + np.array([-HIP_HALF, 0.9]), neck + np.array([HIP_HALF, 0.9])
    joints[:, R_HIP], joints[:, L_HIP] = hip_r, hip_l
    joints[:, R_KNEE], joints[:, R_ANKLE] = _limb(hip_r, (-leg_r, -leg_r + knee_r), (THIGH, SHIN))
    joints[:, L_KNEE], joints[:, L_ANKLE] = _limb(hip_l, (leg_l, leg_l - knee_l), (THIGH, SHIN))
    return np.concatenate([joints, np.zeros((frames, 18, 1))], -1)


def _zeros(t):
    return np.zeros_like(t)


def _rest_arm(t):
    return np.full_like(t, 0.15)


def _rest(t, **changes) -> np.ndarray:
    """The rest pose (arms a little out, legs straight), with some angles replaced."""
    angles = {"arm_r": _rest_arm(t), "arm_l": _rest_arm(t), "elbow_r": _zeros(t), "elbow_l": _zeros(t),
              "leg_r": _zeros(t) + 0.05, "leg_l": _zeros(t) + 0.05, "knee_r": _zeros(t), "knee_l": _zeros(t),
              "drop": _zeros(t)}
    return _pose(t, **(angles | changes))


def _wander(t: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Slow, smooth, aperiodic drift (a sum of sines at 0.1-0.6 Hz) for fidgeting and balance."""
    seconds = t / (2 * np.pi)  # t advances 2 pi per second at tempo 1 (see generate_move)
    total = np.zeros_like(t)
    for _ in range(3):
        total += np.sin(2 * np.pi * rng.uniform(0.1, 0.6) * seconds + rng.uniform(0, 2 * np.pi))
    return amplitude * total / 3


# ---------------------------------------------------------------- dances

def wave(t, phase, rng=None):
    swing = 0.5 * np.sin(t + phase)
    up = np.full_like(t, 1.4)
    return _rest(t, arm_r=up, arm_l=up, elbow_r=swing + 0.4, elbow_l=-swing + 0.4)


def raise_arms(t, phase, rng=None):
    angle = 0.2 + 1.3 * (1 - np.cos(t + phase))  # down (0.2) to overhead (2.8)
    return _rest(t, arm_r=angle, arm_l=angle)


def squat(t, phase, rng=None):
    depth = 0.5 * (1 - np.cos(t + phase))  # 0..1
    knee = 1.2 * depth
    return _pose(t, _rest_arm(t) + 0.9 * depth, _rest_arm(t) + 0.9 * depth, _zeros(t), _zeros(t),
                 0.05 + 0.35 * depth, 0.05 + 0.35 * depth, knee, knee, 0.35 * depth)


def arm_circles(t, phase, rng=None):
    swing = np.pi / 2 + 0.5 * np.sin(t + phase)
    bend = 0.5 * np.cos(t + phase)
    return _rest(t, arm_r=swing, arm_l=swing, elbow_r=bend, elbow_l=bend)


def march(t, phase, rng=None):
    right = 0.6 * np.clip(np.sin(t + phase), 0, None)
    left = 0.6 * np.clip(np.sin(t + phase + np.pi), 0, None)
    return _rest(t, arm_r=_rest_arm(t) + left, arm_l=_rest_arm(t) + right, leg_r=-right * 1.2 + 0.05,
                 leg_l=-left * 1.2 + 0.05, knee_r=1.8 * right, knee_l=1.8 * left)


def side_step(t, phase, rng=None):
    """Step out and together (legs open and close), arms swinging across the body, knees dipping."""
    open_ = 0.5 * (1 - np.cos(2 * (t + phase)))  # two steps per cycle
    swing = np.sin(t + phase)
    dip = 0.3 * (1 - open_)
    return _rest(t, arm_r=0.5 + 0.45 * swing, arm_l=0.5 - 0.45 * swing, elbow_r=_zeros(t) + 0.8,
                 elbow_l=_zeros(t) + 0.8, leg_r=0.05 + 0.35 * open_, leg_l=0.05 + 0.35 * open_, knee_r=dip,
                 knee_l=dip, drop=0.08 * dip)


def spin(t, phase, rng=None):
    """A full turn per cycle with the arms out: the shoulders and hips narrow to a line and widen
    again, left and right swapping sides halfway."""
    out = np.full_like(t, 1.35)
    joints = _rest(t, arm_r=out, arm_l=out, elbow_r=_zeros(t) + 0.2, elbow_l=_zeros(t) + 0.2)
    return _turn(joints, t + phase)


def clap_overhead(t, phase, rng=None):
    """Arms held up, hands meeting above the head and parting again, twice a cycle."""
    apart = 0.5 * (1 - np.cos(2 * (t + phase)))  # 0 = hands together
    arm = 2.55 + 0.25 * apart
    elbow = 0.75 - 0.6 * apart
    return _rest(t, arm_r=arm, arm_l=arm, elbow_r=elbow, elbow_l=elbow)


def jumping_jack(t, phase, rng=None):
    """Arms from the sides to overhead while the legs jump apart; the whole body rises."""
    level = 0.5 * (1 - np.cos(t + phase))
    return _rest(t, arm_r=0.2 + 2.5 * level, arm_l=0.2 + 2.5 * level, leg_r=0.05 + 0.5 * level,
                 leg_l=0.05 + 0.5 * level, knee_r=0.4 * (1 - level), knee_l=0.4 * (1 - level),
                 drop=-0.15 * np.abs(np.sin(t + phase)))


# ---------------------------------------------------------------- not dancing

def standing(t, phase, rng):
    """Still: breathing and a slow sway of balance, nothing rhythmic."""
    sway = _wander(t, rng, 0.03)
    return _rest(t, arm_r=_rest_arm(t) + _wander(t, rng, 0.04), arm_l=_rest_arm(t) + _wander(t, rng, 0.04),
                 leg_r=0.05 + sway, leg_l=0.05 - sway, drop=0.01 * np.sin(t / 4 + phase))


def idle(t, phase, rng):
    """Fidgeting while waiting: weight shifts, arms drifting, and one gesture (a hand to the face,
    arms crossed or hands on the hips) that comes and goes once."""
    frames = len(t)
    shift = _wander(t, rng, 0.12)
    arm_r, arm_l = _rest_arm(t) + _wander(t, rng, 0.25), _rest_arm(t) + _wander(t, rng, 0.25)
    elbow_r, elbow_l = np.abs(_wander(t, rng, 0.4)), np.abs(_wander(t, rng, 0.4))
    start, length = int(rng.integers(0, max(frames // 2, 1))), int(rng.integers(frames // 3, frames + 1))
    envelope = np.zeros(frames)
    envelope[start:start + length] = 1.0
    envelope = np.convolve(envelope, np.ones(7) / 7, mode="same")  # eases in and out
    gesture = rng.choice(("face", "crossed", "hips"))
    if gesture == "face":
        arm_r, elbow_r = arm_r + envelope * (0.5 - arm_r), elbow_r + envelope * (2.4 - elbow_r)
    elif gesture == "crossed":
        arm_r, elbow_r = arm_r + envelope * (0.3 - arm_r), elbow_r + envelope * (-1.9 - elbow_r)
        arm_l, elbow_l = arm_l + envelope * (0.3 - arm_l), elbow_l + envelope * (-1.9 - elbow_l)
    else:
        arm_r, elbow_r = arm_r + envelope * (0.7 - arm_r), elbow_r + envelope * (-2.0 - elbow_r)
        arm_l, elbow_l = arm_l + envelope * (0.7 - arm_l), elbow_l + envelope * (-2.0 - elbow_l)
    return _rest(t, arm_r=arm_r, arm_l=arm_l, elbow_r=elbow_r, elbow_l=elbow_l, leg_r=0.05 + shift,
                 leg_l=0.05 - shift, knee_r=np.clip(shift, 0, None), knee_l=np.clip(-shift, 0, None))


def walking(t, phase, rng):
    """Walking: legs and arms swing forwards and back (in depth), the body bobs twice a step
    cycle and travels; seen from any side (the facing is drawn widely, see generate_move)."""
    joints = _rest(t)
    stride = rng.uniform(0.3, 0.45)
    swing = stride * np.sin(t + phase)
    for hip, knee, ankle, sign in ((R_HIP, R_KNEE, R_ANKLE, 1), (L_HIP, L_KNEE, L_ANKLE, -1)):
        thigh = sign * swing
        flex = 0.7 * np.clip(np.sin(t + phase + sign * np.pi / 2), 0, None)  # the knee bends in the swing
        joints[:, knee] = joints[:, hip] + THIGH * _sagittal(thigh)
        joints[:, ankle] = joints[:, knee] + SHIN * _sagittal(thigh - flex)
    for shoulder, elbow, wrist, sign in ((R_SHOULDER, R_ELBOW, R_WRIST, -1), (L_SHOULDER, L_ELBOW, L_WRIST, 1)):
        arm = sign * 0.8 * swing
        joints[:, elbow] = joints[:, shoulder] + UPPER_ARM * _sagittal(arm)
        joints[:, wrist] = joints[:, elbow] + FOREARM * _sagittal(arm + 0.3)
    joints[..., 1] -= 0.03 * np.abs(np.cos(t + phase))[:, None]
    speed = rng.uniform(0.6, 1.4)  # torso units per radian of the step cycle
    joints[..., 2] += (speed * (t - t[0]) / (2 * np.pi))[:, None]  # travels forwards (towards +z before facing)
    return joints


def _sagittal(angle: np.ndarray) -> np.ndarray:
    """Unit vectors in the body's y-z plane, ``angle`` from straight down towards the front."""
    return np.stack([np.zeros_like(angle), np.cos(angle), np.sin(angle)], -1)


def _turn(joints: np.ndarray, yaw: np.ndarray | float) -> np.ndarray:
    """Rotation about the vertical axis through the neck (yaw 0: facing the camera)."""
    yaw = np.broadcast_to(np.asarray(yaw, dtype=float), joints.shape[:1])[:, None]
    cos, sin = np.cos(yaw), np.sin(yaw)
    out = joints.copy()
    x, z = joints[..., 0] - joints[:, 1:2, 0], joints[..., 2]
    out[..., 0] = joints[:, 1:2, 0] + x * cos + z * sin
    out[..., 2] = -x * sin + z * cos
    return out


DANCE_MOVES: dict[str, Callable] = {
    "wave": wave, "raise_arms": raise_arms, "squat": squat, "arm_circles": arm_circles, "march": march,
    "side_step": side_step, "spin": spin, "clap_overhead": clap_overhead, "jumping_jack": jumping_jack,
}
BACKGROUND_MOVES: dict[str, Callable] = {"standing": standing, "walking": walking, "idle": idle}
ALL_MOVES: dict[str, Callable] = DANCE_MOVES | BACKGROUND_MOVES
MOVES: dict[str, Callable] = {name: DANCE_MOVES[name] for name in ("wave", "raise_arms", "squat", "arm_circles",
                                                                    "march")}
MAX_FACING_DEG = 40.0  # dancers face the camera (or a mirror) roughly
AWAY_PROBABILITY = 0.1  # ... or, now and then, turn their back to it


def generate_move(move: str, frames: int, rng: np.random.Generator, image_size: tuple[int, int] = (640, 480),
                  fps: float = 30.0, missing_rate: float = 0.03, variation: bool = False) -> np.ndarray:
    """(T, 18, 3) pixel keypoints + confidence of one performance (missing: zeros).

    ``variation=False``: a performer facing the camera, upright, 0.18-0.3 image heights per torso
    (the canonical form that tests and examples replay). ``True``: also a random facing (sometimes
    the back to the camera; walking from any side), body width, camera tilt and roll, and a wider
    range of distances (0.14-0.32): what the demo model and the benchmarks are trained on."""
    if move not in ALL_MOVES:
        raise ValueError(f"unknown generated move {move!r}; known: {', '.join(ALL_MOVES)}")
    width, height = image_size
    tempo = rng.uniform(0.5, 1.2)  # cycles per second
    t = 2 * np.pi * tempo * np.arange(frames) / fps
    joints = ALL_MOVES[move](t, rng.uniform(0, 2 * np.pi), rng)
    if variation:
        joints = _vary(joints, move, rng)
        scale = rng.uniform(0.14, 0.32) * height  # pixels per torso unit: near and far
    else:
        joints = joints[..., :2]  # facing the camera: depth dropped
        scale = rng.uniform(0.18, 0.3) * height
    centre = np.array([rng.uniform(0.3, 0.7) * width, rng.uniform(0.2, 0.35) * height])
    drift = rng.normal(0, 0.002 * width, (frames, 1, 2)).cumsum(axis=0)  # the performer sways a little
    pixels = centre + joints * scale + drift + rng.normal(0, 0.012 * scale, joints.shape)
    confidence = rng.uniform(0.6, 1.0, (frames, 18))
    confidence[rng.random((frames, 18)) < missing_rate] = 0.0
    keypoints = np.concatenate([pixels, confidence[..., None]], -1).astype(np.float32)
    keypoints[confidence == 0] = 0.0
    return keypoints


def _vary(joints: np.ndarray, move: str, rng: np.random.Generator) -> np.ndarray:
    """Facing (turned about the vertical axis), body width, camera tilt and roll; (T, 18, 2)."""
    facing = np.deg2rad(rng.uniform(-90, 90) if move == "walking" else rng.uniform(-MAX_FACING_DEG, MAX_FACING_DEG))
    if rng.random() < AWAY_PROBABILITY:
        facing += np.pi
    joints = _turn(joints, facing)[..., :2]  # orthographic camera: depth dropped
    joints[..., 0] *= rng.uniform(0.85, 1.15)  # body width
    joints[..., 1] *= rng.uniform(0.85, 1.0)  # camera tilt shortens the body
    roll = np.deg2rad(rng.uniform(-6, 6))
    rotation = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    return joints @ rotation.T


def write_synthetic_dataset(root: str | Path, samples_per_class: int = 40, frames: int = 48,
                            moves: tuple[str, ...] = tuple(MOVES), val_fraction: float = 0.25, seed: int = 0,
                            image_size: tuple[int, int] = (640, 480), variation: bool = False) -> Path:
    """A dataset of generated moves in pixel coordinates (layout openpose_coco_18, one person);
    ``variation`` as in ``generate_move``."""
    rng = np.random.default_rng(seed)
    with DatasetWriter(root, OPENPOSE_COCO_18.name, list(moves), frames=frames, persons=1) as writer:
        for label, move in enumerate(moves):
            for index in range(samples_per_class):
                keypoints = generate_move(move, frames, rng, image_size, variation=variation)
                split = "val" if index < round(samples_per_class * val_fraction) else "train"
                writer.add(keypoints.transpose(2, 0, 1)[..., None],
                           SampleInfo(label=label, split=split, source=f"synthetic:{move}:{index}", end_frame=frames,
                                      image_size=image_size, num_frames=frames))
    return Path(root)
