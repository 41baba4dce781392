"""Keypoint layouts as data: joint names, bones and a centre joint, in a registry by name.

A layout is everything the rest of the package needs to know about a skeleton format: how many
joints, what they are called (so conversions, mirroring and body-centred normalisation work by
name), which pairs are bones (the spatial graph), and the centre joint of the spatial partition.
Joint order is the backend's own output order; bone lists follow each project's published
definition (MediaPipe POSE_CONNECTIONS, OpenPose pair lists, the ST-GCN reference graphs).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LAYOUTS", "Layout", "get_layout", "register_layout"]


@dataclass(frozen=True)
class Layout:
    """A named keypoint layout. ``edges`` are undirected bones as joint-index pairs."""

    name: str
    joint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    description: str = ""

    def __post_init__(self) -> None:
        num_joints = len(self.joint_names)
        if len(set(self.joint_names)) != num_joints:
            raise ValueError(f"layout {self.name!r} has duplicate joint names")
        for a, b in self.edges:
            if not (0 <= a < num_joints and 0 <= b < num_joints) or a == b:
                raise ValueError(f"layout {self.name!r} has an invalid edge ({a}, {b})")
        if not 0 <= self.center < num_joints:
            raise ValueError(f"layout {self.name!r} centre {self.center} is not a joint index")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(f"layout {self.name!r} has no joint {joint_name!r}") from None

    def mirror_permutation(self) -> tuple[int, ...]:
        """Index map that swaps every left_* joint with its right_* twin (for mirroring)."""
        permutation = []
        for name in self.joint_names:
            if name.startswith("left_"):
                twin = "right_" + name[len("left_"):]
            elif name.startswith("right_"):
                twin = "left_" + name[len("right_"):]
            else:
                twin = name
            permutation.append(self.index(twin) if twin in self.joint_names else self.index(name))
        return tuple(permutation)


LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    """Add a layout to the registry (user layouts too); names are unique."""
    if layout.name in LAYOUTS and LAYOUTS[layout.name] != layout:
        raise ValueError(f"a different layout named {layout.name!r} is already registered")
    LAYOUTS[layout.name] = layout
    return layout


def get_layout(name: str | Layout) -> Layout:
    """The registered layout of that name; a Layout passes through, so callers accept either."""
    if isinstance(name, Layout):
        return name
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown keypoint layout {name!r}; known layouts: {', '.join(sorted(LAYOUTS))}") from None


MEDIAPIPE_POSE_33 = register_layout(Layout(
    name="mediapipe_pose_33",
    joint_names=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
        "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
        "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
        "left_foot_index", "right_foot_index",
    ),
    edges=(
        (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13),
        (13, 15), (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20),
        (16, 22), (18, 20), (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
        (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
        # Not in POSE_CONNECTIONS, which leaves the mouth and the head unattached to the body:
        # a graph convolution needs one connected graph.
        (0, 9), (0, 10), (0, 11), (0, 12),
    ),
    center=0,
    description="MediaPipe Pose landmarks (BlazePose, 33 joints)",
))

OPENPOSE_COCO_18 = register_layout(Layout(
    name="openpose_coco_18",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    edges=(
        (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2), (5, 1),
        (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
    ),
    center=1,
    description="OpenPose COCO-18 (the 'openpose' layout of the ST-GCN reference and its Kinetics model)",
))

OPENPOSE_BODY_25 = register_layout(Layout(
    name="openpose_body_25",
    joint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
        "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
    edges=(
        (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
        (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
        (11, 22), (22, 23), (11, 24),
    ),
    center=1,
    description="OpenPose BODY_25",
))

COCO_17 = register_layout(Layout(
    name="coco_17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle",
    ),
    edges=(
        (15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6), (5, 0),
        (6, 0), (1, 0), (3, 1), (2, 0), (4, 2),
    ),
    center=0,
    description="COCO keypoints (17 joints), as in pyskl's 'coco' graph",
))

NTU_RGBD_25 = register_layout(Layout(
    name="ntu_rgbd_25",
    joint_names=(
        "spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow", "left_wrist",
        "left_hand", "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip", "left_knee",
        "left_ankle", "left_foot", "right_hip", "right_knee", "right_ankle", "right_foot", "spine_shoulder",
        "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
    ),
    edges=tuple((a - 1, b - 1) for a, b in (
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
        (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23),
        (23, 8), (24, 25), (25, 12),
    )),
    center=20,
    description="Kinect v2 joints of NTU RGB+D (25 joints, the ST-GCN reference's 'ntu-rgb+d' graph)",
))
