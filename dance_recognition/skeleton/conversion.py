"""Convert keypoints between layouts where joints correspond, by joint name.

A target joint is either the source joint of the same name, or derived: the ``neck`` of COCO-18
is the midpoint of the two shoulders where the source has no neck (MediaPipe-33, COCO-17).
Confidence travels with each joint (a derived joint gets the lower of its parents'), and a
missing joint stays missing (confidence 0, NaN position).
"""
from __future__ import annotations

import numpy as np

from dance_recognition.skeleton.layouts import Layout, get_layout
from dance_recognition.skeleton.pose import mark_missing

# target joint name -> source joints averaged to make it, when the source lacks the name
DERIVED_JOINTS: dict[str, tuple[str, ...]] = {
    "neck": ("left_shoulder", "right_shoulder"),
    "mid_hip": ("left_hip", "right_hip"),
}


def conversion_plan(source: Layout | str, target: Layout | str) -> list[tuple[int, ...]]:
    """For each target joint, the source indices averaged into it (one index = a copy)."""
    source = get_layout(source)
    target = get_layout(target)
    plan, unmatched = [], []
    for name in target.joint_names:
        if name in source.joint_names:
            plan.append((source.index(name),))
        elif name in DERIVED_JOINTS and all(p in source.joint_names for p in DERIVED_JOINTS[name]):
            plan.append(tuple(source.index(p) for p in DERIVED_JOINTS[name]))
        else:
            unmatched.append(name)
    if unmatched:
        raise ValueError(
            f"cannot convert {source.name} to {target.name}: no corresponding joint for {', '.join(unmatched)}"
        )
    return plan


def convert_keypoints(keypoints: np.ndarray, source: Layout | str, target: Layout | str) -> np.ndarray:
    """(..., V_source, 3) x, y, confidence -> (..., V_target, 3), same convention."""
    source = get_layout(source)
    keypoints = mark_missing(np.asarray(keypoints, dtype=np.float32))
    if keypoints.shape[-2:] != (source.num_joints, 3):
        raise ValueError(
            f"keypoints have shape {keypoints.shape}; layout {source.name} needs (..., {source.num_joints}, 3)"
        )
    joints = []
    for parents in conversion_plan(source, target):
        chosen = keypoints[..., list(parents), :]
        position = chosen[..., :2].mean(axis=-2)  # NaN if any parent is missing
        confidence = chosen[..., 2].min(axis=-1)
        joints.append(np.concatenate([position, confidence[..., None]], axis=-1))
    return mark_missing(np.stack(joints, axis=-2))
