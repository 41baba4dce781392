"""Layouts, their ST-GCN graphs, conversions between layouts, normalisations and windows."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dance_recognition.skeleton.conversion import convert_keypoints
from dance_recognition.skeleton.graph import STRATEGIES, adjacency, hop_distance
from dance_recognition.skeleton.layouts import LAYOUTS, get_layout
from dance_recognition.skeleton.normalization import body_centred, kinetics, normalize
from dance_recognition.skeleton.windows import fit_window

LAYOUT_NAMES = sorted(LAYOUTS)
EXPECTED_SUBSETS = {"uniform": 1, "distance": 2, "spatial": 3}


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_layout_is_one_connected_skeleton(layout: str) -> None:
    spec = get_layout(layout)
    hops = hop_distance(spec.num_joints, spec.edges, max_hop=spec.num_joints)
    assert np.isfinite(hops).all(), "some joints are unreachable from others"
    assert len({tuple(sorted(e)) for e in spec.edges}) == len(spec.edges), "duplicate bones"


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_adjacency_partitions_the_normalised_neighbourhood(layout: str, strategy: str) -> None:
    spec = get_layout(layout)
    a = adjacency(spec, strategy)
    assert a.shape == (EXPECTED_SUBSETS[strategy], spec.num_joints, spec.num_joints)
    total = a.sum(axis=0)
    # every joint's neighbourhood (itself + bones) is covered once: columns sum to 1
    np.testing.assert_allclose(total.sum(axis=0), 1.0, rtol=1e-6)
    # the neighbourhood pattern is symmetric even though D^-1 normalisation is not
    assert ((total > 0) == (total > 0).T).all()
    neighbours = np.eye(spec.num_joints, dtype=bool)
    for i, j in spec.edges:
        neighbours[i, j] = neighbours[j, i] = True
    assert ((total > 0) == neighbours).all()
    # subsets are disjoint
    assert ((a > 0).sum(axis=0) <= 1).all()


def test_spatial_partition_of_the_openpose_graph_matches_the_reference_definition() -> None:
    """Hand-checked column of the right shoulder (2): itself, neck (1, the centre), right elbow (3)
    and right hip (8), 1/4 each. Subset 1 holds neighbours as far from the centre or farther
    (the elbow and hip are beyond max_hop, "inf", as in the reference), subset 2 nearer ones."""
    a = adjacency("openpose_coco_18", "spatial")
    assert a[0, 2, 2] == pytest.approx(0.25)
    assert a[1, 3, 2] == pytest.approx(0.25) and a[1, 8, 2] == pytest.approx(0.25)
    assert a[2, 1, 2] == pytest.approx(0.25)
    assert (a[:, :, 2] > 0).sum() == 4
    # the neck: itself, nose, both shoulders
    assert a[:, :, 1].sum() == pytest.approx(1.0) and (a[:, :, 1] > 0).sum() == 4


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_mirroring_swaps_left_and_right(layout: str) -> None:
    spec = get_layout(layout)
    permutation = spec.mirror_permutation()
    assert sorted(permutation) == list(range(spec.num_joints))
    assert all(permutation[permutation[i]] == i for i in range(spec.num_joints))
    if "left_wrist" in spec.joint_names:
        assert permutation[spec.index("left_wrist")] == spec.index("right_wrist")


def mediapipe_person() -> np.ndarray:
    kp = np.zeros((33, 3), np.float32)
    kp[:, 0] = np.arange(33) * 10.0
    kp[:, 1] = np.arange(33) * 5.0
    kp[:, 2] = 0.9
    return kp


def test_mediapipe_to_coco18_derives_the_neck_and_keeps_confidence() -> None:
    mp = mediapipe_person()
    mp[12, 2] = 0.5  # right shoulder less sure
    coco = convert_keypoints(mp, "mediapipe_pose_33", "openpose_coco_18")
    coco_layout = get_layout("openpose_coco_18")
    neck = coco[coco_layout.index("neck")]
    np.testing.assert_allclose(neck, [(110 + 120) / 2, (55 + 60) / 2, 0.5])
    np.testing.assert_allclose(coco[coco_layout.index("left_wrist")], mp[15])
    np.testing.assert_allclose(coco[coco_layout.index("right_ear")], mp[8])


def test_missing_joints_stay_missing_through_conversion() -> None:
    mp = mediapipe_person()
    mp[11] = (np.nan, np.nan, 0.0)  # left shoulder missing -> neck missing too
    mp[15, 2] = 0.0  # left wrist missing even though it has a position
    coco = convert_keypoints(mp, "mediapipe_pose_33", "openpose_coco_18")
    layout = get_layout("openpose_coco_18")
    for name in ("neck", "left_shoulder", "left_wrist"):
        assert coco[layout.index(name), 2] == 0 and np.isnan(coco[layout.index(name), :2]).all(), name


def test_body25_and_coco17_convert_to_coco18() -> None:
    body = np.random.default_rng(0).uniform(1, 100, (2, 25, 3)).astype(np.float32)
    body[..., 2] = 0.8
    coco = convert_keypoints(body, "openpose_body_25", "openpose_coco_18")
    assert coco.shape == (2, 18, 3)
    np.testing.assert_allclose(coco[:, :8], body[:, :8])  # nose .. left wrist share indices
    np.testing.assert_allclose(coco[:, 8], body[:, 9])  # right hip: 8 in COCO-18, 9 in BODY_25 (8 = mid hip)
    c17 = np.random.default_rng(1).uniform(1, 100, (17, 3)).astype(np.float32)
    c17[:, 2] = 0.7
    c18 = convert_keypoints(c17, "coco_17", "openpose_coco_18")
    assert c18[1, 0] == pytest.approx((c17[5, 0] + c17[6, 0]) / 2)


def test_unsupported_conversion_names_the_missing_joints() -> None:
    with pytest.raises(ValueError, match=r"cannot convert openpose_coco_18 to mediapipe_pose_33: .*left_heel"):
        convert_keypoints(np.zeros((18, 3)), "openpose_coco_18", "mediapipe_pose_33")


def test_kinetics_normalisation_matches_the_reference_convention() -> None:
    seq = np.array([[[[320.0, 120.0, 0.9], [math.nan, math.nan, 0.0]]]], np.float32)  # (M=1, T=1, V=2, 3)
    out = kinetics(seq, (640, 480))
    assert out.shape == (3, 1, 2, 1)
    np.testing.assert_allclose(out[:, 0, 0, 0], [0.0, -0.25, 0.9])
    np.testing.assert_array_equal(out[:, 0, 1, 0], [0.0, 0.0, 0.0])  # missing joint -> zeros


def test_body_centred_normalisation_ignores_where_and_how_big_the_person_is() -> None:
    rng = np.random.default_rng(0)
    seq = rng.uniform(100, 300, (1, 20, 33, 3)).astype(np.float32)
    seq[..., 2] = 0.9
    moved = seq.copy()
    moved[..., :2] = seq[..., :2] * 2.5 + np.array([400.0, -50.0], np.float32)
    np.testing.assert_allclose(body_centred(seq, layout="mediapipe_pose_33"),
                               body_centred(moved, layout="mediapipe_pose_33"), atol=1e-4)
    centred = normalize("body_centred", seq, None, "mediapipe_pose_33")
    hips = centred[:2, :, [23, 24], 0].mean(axis=2)
    np.testing.assert_allclose(hips, 0.0, atol=1e-4)


def test_window_policies() -> None:
    seq = np.arange(5)[:, None].astype(np.float32)
    assert fit_window(seq, 8, pad="zeros")[:, 0].tolist() == [0, 1, 2, 3, 4, 0, 0, 0]
    assert fit_window(seq, 8, pad="repeat")[:, 0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert fit_window(seq, 7, pad="edge")[:, 0].tolist() == [0, 1, 2, 3, 4, 4, 4]
    assert fit_window(seq, 3, crop="newest")[:, 0].tolist() == [2, 3, 4]
    assert fit_window(seq, 3, crop="center")[:, 0].tolist() == [1, 2, 3]
    assert fit_window(seq, 3, crop="uniform")[:, 0].tolist() == [0, 2, 4]
    with pytest.raises(ValueError, match="unknown pad policy 'mirror'"):
        fit_window(seq, 8, pad="mirror")
