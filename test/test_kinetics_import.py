"""The Kinetics-skeleton importer reads clips as the reference feeder does, and refuses labels
that disagree (label file, the clip's own label_index, --classes)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dance_recognition.data.dataset import DatasetError, SkeletonDataset
from dance_recognition.data.importers import import_kinetics


def _person(score: float, x: float) -> dict:
    return {"pose": [x, 0.5] * 18, "score": [score] * 18}


def _write_clip(folder: Path, name: str, frames: list[list[dict]], label: str = "dancing", index: int = 0) -> None:
    data = [{"frame_index": i, "skeleton": people} for i, people in enumerate(frames)]
    (folder / f"{name}.json").write_text(json.dumps({"data": data, "label": label, "label_index": index}))


def test_persons_are_ranked_in_each_frame_as_the_reference_feeder_does(tmp_path) -> None:
    """A is the more confident over the whole clip (5 x 0.9 + 3 x 0.1) but B is in frames 5-7:
    ranked per frame, the first person of frames 5-7 is B (as in the published models' data)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    a_first = [[_person(0.9, 0.2), _person(0.3, 0.8)]] * 5
    b_first = [[_person(0.1, 0.2), _person(0.8, 0.8)]] * 3
    _write_clip(clips, "flip", a_first + b_first)
    (tmp_path / "labels.json").write_text(json.dumps({"flip": {"label": "dancing", "label_index": 0,
                                                               "has_skeleton": True}}))
    import_kinetics(clips, tmp_path / "labels.json", tmp_path / "ds", frames=8, persons=1)
    array, _ = SkeletonDataset(tmp_path / "ds")[0]
    np.testing.assert_allclose(array[0, :5, 0, 0], 0.2 - 0.5)  # A
    np.testing.assert_allclose(array[0, 5:, 0, 0], 0.8 - 0.5)  # B, not A
    np.testing.assert_allclose(array[2, :, 0, 0], [0.9] * 5 + [0.8] * 3)


def test_only_the_first_five_skeletons_of_a_frame_are_read(tmp_path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    _write_clip(clips, "crowd", [[_person(0.2, 0.1 * i) for i in range(5)] + [_person(0.99, 0.9)]])
    (tmp_path / "labels.json").write_text(json.dumps({"crowd": {"label": "dancing", "label_index": 0}}))
    import_kinetics(clips, tmp_path / "labels.json", tmp_path / "ds", frames=1, persons=2)
    array, _ = SkeletonDataset(tmp_path / "ds")[0]
    assert array[2].max() == pytest.approx(0.2)  # the sixth (most confident) is not read, as in the reference


@pytest.fixture()
def clips(tmp_path) -> Path:
    folder = tmp_path / "clips"
    folder.mkdir()
    _write_clip(folder, "c1", [[_person(0.9, 0.3)]], label="salsa", index=1)
    _write_clip(folder, "c0", [[_person(0.9, 0.3)]], label="tango", index=0)
    return folder


def _labels(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(entries))
    return path


def test_disagreeing_labels_are_clear_errors(clips, tmp_path) -> None:
    good = {"c0": {"label": "tango", "label_index": 0}, "c1": {"label": "salsa", "label_index": 1}}
    other = _labels(tmp_path, {"v9": {"label": "tango", "label_index": 0}})
    with pytest.raises(DatasetError, match=r"names none of the 2 clips in .* \(e\.g\. c0\); give the label file"):
        import_kinetics(clips, other, tmp_path / "a", frames=2, persons=1)
    with pytest.raises(DatasetError, match=r"clip c0 is labelled 'tango' with label_index 0, but the class names "
                                           r"\(--classes\) call class 0 'salsa'"):
        import_kinetics(clips, _labels(tmp_path, good), tmp_path / "b", ["salsa", "tango"], frames=2, persons=1)
    swapped = {"c0": {"label": "salsa", "label_index": 1}, "c1": {"label": "salsa", "label_index": 1}}
    with pytest.raises(DatasetError, match=r"c0.json says label_index 0, .* says 1"):
        import_kinetics(clips, _labels(tmp_path, swapped), tmp_path / "c", frames=2, persons=1)
    twice = {"c0": {"label": "tango", "label_index": 0}, "c1": {"label": "salsa", "label_index": 0}}
    with pytest.raises(DatasetError, match="label_index 0 is called both 'tango' and 'salsa'"):
        import_kinetics(clips, _labels(tmp_path, twice), tmp_path / "d", frames=2, persons=1)
    none = {"c0": {"label": "tango", "label_index": 0, "has_skeleton": False}}
    with pytest.raises(DatasetError, match=r"no clip of .* could be imported: c0\.json: has no skeleton"):
        import_kinetics(clips, _labels(tmp_path, none), tmp_path / "e", frames=2, persons=1)
    assert not (tmp_path / "e").exists()
    count, _ = import_kinetics(clips, _labels(tmp_path, good), tmp_path / "f", ["tango", "salsa"], frames=2,
                               persons=1)
    assert count == 2 and SkeletonDataset(tmp_path / "f").class_names == ["tango", "salsa"]
