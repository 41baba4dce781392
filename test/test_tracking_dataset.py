"""Person tracking across frames and the on-disk dataset format."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

from dance_recognition.data.dataset import DatasetError, DatasetWriter, SampleInfo, SkeletonDataset
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
from dance_recognition.skeleton.pose import PersonPose, PoseFrame
from dance_recognition.skeleton.tracking import PoseTracker


def _person(x: float, y: float, height: float = 100.0) -> PersonPose:
    rng = np.random.default_rng(int(x * 7 + y))
    joints = np.stack([x + rng.uniform(-height / 4, height / 4, 18), y + rng.uniform(0, height, 18),
                       np.full(18, 0.9)], axis=1)
    return PersonPose(keypoints=joints)


def _frame(people: list[PersonPose]) -> PoseFrame:
    return PoseFrame(layout=OPENPOSE_COCO_18.name, joint_names=OPENPOSE_COCO_18.joint_names, image_width=640,
                     image_height=480, people=people)


def _moved(person: PersonPose, dx: float) -> PersonPose:
    keypoints = person.keypoints.copy()
    keypoints[:, 0] += dx
    return PersonPose(keypoints=keypoints)


def test_tracker_keeps_ids_when_people_swap_order_and_move() -> None:
    tracker = PoseTracker()
    a, b = _person(100, 100), _person(400, 120)
    tracker.update(_frame([a, b]))
    id_a, id_b = a.track_id, b.track_id
    assert id_a != id_b
    for step in range(1, 6):  # they walk towards each other; the detector lists them in either order
        a, b = _moved(a, 10), _moved(b, -10)
        tracker.update(_frame([b, a] if step % 2 else [a, b]))
        assert (a.track_id, b.track_id) == (id_a, id_b)


def test_tracker_gates_far_jumps_and_ages_out_lost_tracks() -> None:
    tracker = PoseTracker(max_distance=0.5, max_age=2)
    person = _person(100, 100)
    tracker.update(_frame([person]))
    assert person.track_id == 0
    jumped = _moved(person, 300)  # three body sizes away: another person, not the same one
    tracker.update(_frame([jumped]))
    assert jumped.track_id == 1
    for _ in range(3):
        tracker.update(_frame([]))
    assert tracker.tracks == []
    back = _moved(person, 0)
    tracker.update(_frame([back]))
    assert back.track_id == 2  # ids are never reused


def test_tracker_needs_shared_joints() -> None:
    tracker = PoseTracker()
    person = _person(100, 100)
    tracker.update(_frame([person]))
    partial = person.keypoints.copy()
    partial[2:, 2] = 0  # only two joints left in common
    other = PersonPose(keypoints=partial)
    tracker.update(_frame([other]))
    assert other.track_id == 1


def _write(root, n: int = 5, classes=("a", "b"), **kwargs) -> None:
    with DatasetWriter(root, "openpose_coco_18", classes, frames=8, persons=2, **kwargs) as writer:
        for i in range(n):
            sample = np.full((3, 8, 18, 2), i, np.float32)
            writer.add(sample, SampleInfo(label=i % 2, split="val" if i == 0 else "train", source=f"v{i}.mp4",
                                          end_frame=8, image_size=(640, 480), num_frames=8))


def test_dataset_round_trip_and_append(tmp_path) -> None:
    root = tmp_path / "ds"
    _write(root)
    dataset = SkeletonDataset(root)
    assert len(dataset) == 5 and dataset.layout == "openpose_coco_18"
    array, label = dataset[3]
    assert array.shape == (3, 8, 18, 2) and (array == 3).all() and label == 1
    assert dataset.indices("val").tolist() == [0] and dataset.class_counts() == {"a": 3, "b": 2}
    index = json.loads((root / "dataset.json").read_text())
    assert index["samples"][2]["source"] == "v2.mp4" and index["num_samples"] == 5

    with DatasetWriter(root, "openpose_coco_18", ["b", "c"], frames=8, persons=2, append=True) as writer:
        writer.add(np.full((3, 8, 18, 2), 9, np.float32), SampleInfo(label=writer.label_of("c"), source="new.mp4",
                                                                      image_size=(640, 480)))
    dataset = SkeletonDataset(root)
    assert len(dataset) == 6 and dataset.class_names == ["a", "b", "c"]
    array, label = dataset[5]
    assert (array == 9).all() and label == 2
    assert isinstance(dataset._shards[0], np.memmap)


def test_dataset_refuses_bad_input_and_overwrites_nothing(tmp_path) -> None:
    root = tmp_path / "ds"
    _write(root)
    before = (root / "dataset.json").read_bytes()
    with pytest.raises(DatasetError, match="already holds a dataset"):
        _write(root)
    with pytest.raises(DatasetError, match="duplicated class names: a"):
        DatasetWriter(tmp_path / "x", "openpose_coco_18", ["a", "a"], frames=8)
    with pytest.raises(DatasetError, match="no class names"):
        DatasetWriter(tmp_path / "x", "openpose_coco_18", [], frames=8)
    with pytest.raises(DatasetError, match="cannot append: the dataset has frames=8"):
        DatasetWriter(root, "openpose_coco_18", ["a"], frames=16, persons=2, append=True)
    writer = DatasetWriter(root, "openpose_coco_18", ["a"], frames=8, persons=2, append=True)
    bad = np.zeros((3, 8, 18, 2), np.float32)
    bad[0, 3, 4, 1] = np.nan
    with pytest.raises(DatasetError, match=r"NaN or inf \(first at index \(0, 3, 4, 1\)\)"):
        writer.add(bad, SampleInfo(label=0, image_size=(1, 1)))
    with pytest.raises(DatasetError, match=r"sample shape \(3, 8, 33, 2\)"):
        writer.add(np.zeros((3, 8, 33, 2), np.float32), SampleInfo(label=0, image_size=(1, 1)))
    assert (root / "dataset.json").read_bytes() == before


def test_a_crash_before_commit_leaves_no_dataset(tmp_path) -> None:
    root = tmp_path / "ds"
    with pytest.raises(RuntimeError), DatasetWriter(root, "coco_17", ["a"], frames=4) as writer:
        writer.add(np.zeros((3, 4, 17, 1), np.float32), SampleInfo(label=0, image_size=(2, 2)))
        raise RuntimeError("crash")
    assert not root.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(DatasetError, match=r"dataset\.json is missing"):
        SkeletonDataset(root)


def test_read_only_output_is_a_clear_error(tmp_path) -> None:
    read_only = Path("/sys/dance_recognition_dataset")  # sysfs refuses new folders, even to root
    with pytest.raises(DatasetError, match="Operation not permitted: read-only"):
        DatasetWriter(read_only / "ds", "coco_17", ["a"], frames=4)


def test_disk_full_while_committing_keeps_the_committed_dataset(tmp_path, monkeypatch) -> None:
    root = tmp_path / "ds"
    _write(root)
    before = (root / "dataset.json").read_bytes()

    def disk_full(path, array):  # stands in for a full disk, which cannot be made here without root mounts
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("dance_recognition.data.dataset._save_array_atomic", disk_full)
    writer = DatasetWriter(root, "openpose_coco_18", ["a"], frames=8, persons=2, append=True)
    writer.add(np.zeros((3, 8, 18, 2), np.float32), SampleInfo(label=0, image_size=(1, 1)))
    with pytest.raises(DatasetError, match="No space left on device"):
        writer.commit()
    assert (root / "dataset.json").read_bytes() == before and len(SkeletonDataset(root)) == 5


def test_damaged_shard_is_reported(tmp_path) -> None:
    root = tmp_path / "ds"
    _write(root)
    shard = root / "shards" / "000000.npy"
    shard.write_bytes(shard.read_bytes()[:200])
    with pytest.raises(DatasetError, match=r"000000\.npy"):
        SkeletonDataset(root)
