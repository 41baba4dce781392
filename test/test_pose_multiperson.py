"""Several people through the Tasks-API MediaPipe backend: its offline bundle, real footage with
two and three people, ids through a crossing made of real frames, and the same-body filter."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from real_footage import demo_video, partner_frames, read_rgb_frames, shared_video, three_people_frames

from dance_recognition.pose import PoseBackendError, create_estimator
from dance_recognition.pose import mediapipe_bundle as bundles
from dance_recognition.pose.mediapipe_backend import drop_duplicates, same_person
from dance_recognition.skeleton.layouts import MEDIAPIPE_POSE_33
from dance_recognition.skeleton.pose import PersonPose
from dance_recognition.skeleton.tracking import PoseTracker, box_overlap

# ---------------------------------------------------------------- the bundle


@pytest.fixture
def wheel_copy(tmp_path: Path) -> Path:
    """The wheel's pose model files copied into a folder of the same shape, to break them safely."""
    modules = bundles.wheel_model_dir()
    copy = tmp_path / "modules"
    for name in ("pose_detection/pose_detection.tflite", "pose_landmark/pose_landmark_full.tflite"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((modules / name).read_bytes())
    return copy


def test_bundle_is_built_from_the_wheel_files_then_cached(tmp_path: Path, wheel_copy: Path) -> None:
    cache = tmp_path / "cache"
    bundle = bundles.pose_bundle("full", cache=cache, modules=wheel_copy)
    assert bundle.parent == cache and bundle.suffix == ".task"
    with zipfile.ZipFile(bundle) as archive:
        assert sorted(archive.namelist()) == sorted(bundles.BUNDLE_MEMBERS)
        landmarks = archive.read("pose_landmarks_detector.tflite")
    source = (wheel_copy / "pose_landmark" / "pose_landmark_full.tflite").read_bytes()
    assert b"TFLITE_METADATA" in landmarks and b"TFLITE_METADATA" not in source  # normalisation added
    built = bundle.stat().st_mtime_ns
    os.utime(bundle, ns=(built - 10**9, built - 10**9))
    assert bundles.pose_bundle("full", cache=cache, modules=wheel_copy) == bundle
    assert bundle.stat().st_mtime_ns == built - 10**9, "a valid cached bundle must not be rebuilt"
    # the bundle really runs: a person is found in a real image
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(bundle)))
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        import mediapipe as mp

        image = read_rgb_frames(shared_video("ta_chi.mp4"), 1)[0]
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
    assert len(result.pose_landmarks) == 1


def test_bundle_is_rebuilt_when_missing_broken_or_stale(tmp_path: Path, wheel_copy: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    bundle = bundles.pose_bundle("full", cache=cache, modules=wheel_copy)
    bundle.unlink()
    assert bundles.pose_bundle("full", cache=cache, modules=wheel_copy) == bundle and bundle.is_file()
    bundle.write_bytes(bundle.read_bytes()[:1000])  # an interrupted copy
    assert not bundles.is_valid_bundle(bundle)
    assert bundles.is_valid_bundle(bundles.pose_bundle("full", cache=cache, modules=wheel_copy))
    # another wheel (new version or new model bytes) gets a new bundle; the old one is removed
    import mediapipe

    monkeypatch.setattr(mediapipe, "__version__", "0.10.99", raising=False)
    upgraded = bundles.pose_bundle("full", cache=cache, modules=wheel_copy)
    assert upgraded != bundle and upgraded.is_file() and not bundle.exists()
    detector = wheel_copy / "pose_detection" / "pose_detection.tflite"
    detector.write_bytes((bundles.wheel_model_dir() / "pose_detection" / "pose_detection.tflite").read_bytes())
    assert bundles.pose_bundle("full", cache=cache, modules=wheel_copy) == upgraded  # same bytes, same bundle
    assert sorted(p.name for p in cache.iterdir()) == [upgraded.name]  # no temporary file left behind


def test_missing_wheel_files_are_one_clear_error(tmp_path: Path, wheel_copy: Path) -> None:
    (wheel_copy / "pose_landmark" / "pose_landmark_full.tflite").unlink()
    with pytest.raises(PoseBackendError, match=r"landmark model .* is missing; reinstall it"):
        bundles.pose_bundle("full", cache=tmp_path / "cache", modules=wheel_copy)
    (wheel_copy / "pose_detection" / "pose_detection.tflite").unlink()
    with pytest.raises(PoseBackendError, match=r"pose detector .* is missing"):
        bundles.pose_bundle("full", cache=tmp_path / "cache", modules=wheel_copy)
    with pytest.raises(PoseBackendError, match=r"@mediapipe/pose@0\.5\.1675469404"):
        bundles.source_files("heavy", modules=bundles.wheel_model_dir(), cache=tmp_path / "empty")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_extra_landmark_models_are_found_in_the_cache(tmp_path: Path, wheel_copy: Path) -> None:
    models = tmp_path / "cache" / "models"
    models.mkdir(parents=True)
    # any landmark network of the right kind stands in for the npm package's lite file here
    (models / "pose_landmark_lite.tflite").write_bytes(
        (wheel_copy / "pose_landmark" / "pose_landmark_full.tflite").read_bytes())
    assert bundles.available_models(cache=tmp_path / "cache", modules=wheel_copy) == ["lite", "full"]
    bundle = bundles.pose_bundle("lite", cache=tmp_path / "cache", modules=wheel_copy)
    assert bundle.name.startswith("pose_landmarker_lite-")


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(PoseBackendError, match="unknown MediaPipe model 'tiny'"):
        create_estimator("mediapipe", model="tiny")
    with pytest.raises(PoseBackendError, match="num_poses must be between 1 and 20"):
        create_estimator("mediapipe", num_poses=0)
    with pytest.raises(PoseBackendError, match="redetect_confidence must be between 0 and 1"):
        create_estimator("mediapipe", redetect_confidence=1.5)


# ---------------------------------------------------------------- the same-body filter


def _person(points: np.ndarray, confidence: np.ndarray | None = None) -> PersonPose:
    confidence = np.ones(len(points)) if confidence is None else confidence
    return PersonPose(keypoints=np.column_stack([points, confidence]))


def test_same_body_reported_twice_counts_once_and_neighbours_stay_two() -> None:
    rng = np.random.default_rng(0)
    body = rng.uniform([100, 100], [160, 300], size=(33, 2))
    repeat = body + rng.normal(0, 2, size=body.shape)
    swapped = body[list(MEDIAPIPE_POSE_33.mirror_permutation())]  # the sides labelled the other way round
    neighbour = body + np.array([70, 0])  # a partner standing beside, touching
    centre = body.mean(axis=0)
    legs = np.zeros(33)
    legs[23:] = 1
    fragment = _person(centre + (body - centre) * 0.5, legs)  # a small skeleton inside the body's box
    assert same_person(_person(body), fragment)
    people = [_person(body), _person(repeat), _person(swapped), _person(neighbour), fragment]
    assert same_person(people[0], people[1]) and same_person(people[0], people[2])
    assert not same_person(people[0], people[3])
    kept = drop_duplicates(people)
    assert [id(p) for p in kept] == [id(people[0]), id(people[3])]


# ---------------------------------------------------------------- real footage


@pytest.mark.slow
def test_two_people_on_the_pose2sim_clip_keep_two_ids() -> None:
    frames = read_rgb_frames(shared_video("people_pose2sim_cam01.mp4"), 30)
    tracker = PoseTracker()
    ids, counts = set(), []
    with create_estimator("mediapipe") as estimator:
        for index, image in enumerate(frames):
            frame = tracker.update(estimator.estimate(image, stamp_ns=index * 16_666_667))
            counts.append(len(frame.people))
            ids |= {p.track_id for p in frame.people}
    assert counts.count(2) >= 25, counts  # 30/30 measured
    assert len(ids) == 2, ids


@pytest.mark.slow
def test_demo_video_keeps_two_ids_through_ghosts_and_the_back_flip() -> None:
    """Frames 40-205 of the demo video: the backlit man on the box is tracked; the woman walks in from
    the right (frame ~59, found at once beside him), passes under him (a ghost skeleton from his
    head to her feet at frame 128, a fragment of her head at 146, her legs alone at 184); he does a
    back flip off the box, unseen for 17 frames (169-185), and comes back 1.7 person sizes away.
    Two people, two ids (5 before these were handled), never a third person reported."""
    frames = read_rgb_frames(demo_video(), 166, start=40)
    tracker = PoseTracker()
    seen: list[dict[int, np.ndarray]] = []
    with create_estimator("mediapipe") as estimator:
        for index, image in enumerate(frames):
            frame = tracker.update(estimator.estimate(image, stamp_ns=index * 33_333_333))
            seen.append({p.track_id: p.bounding_box() for p in frame.people})
    counts = [len(people) for people in seen]
    assert counts[20:50].count(2) >= 28, counts  # the newcomer: 30/30 measured
    assert max(counts) == 2, counts
    assert len(set().union(*seen)) == 2, seen
    on_box = seen[150 - 40]  # the man on the box (upper half), the woman on the ground
    man = min(on_box, key=lambda track: on_box[track][1])
    woman = max(on_box, key=lambda track: on_box[track][1])
    assert man != woman
    assert woman in seen[195 - 40] and seen[195 - 40][woman][0] < 300  # still her, walking out on the left
    assert man in seen[205 - 40] and seen[205 - 40][man][0] > 1000  # still him, landed on the right
    with create_estimator("mediapipe", num_poses=1) as estimator:
        assert max(len(estimator.estimate(image).people) for image in frames[40:50]) == 1  # num_poses is honoured


def track_frames(frames: list[np.ndarray]) -> list[dict[int, float]]:
    """Per frame: track id -> median x of the person's joints (backend + tracker, 30 frames/s)."""
    tracker = PoseTracker()
    seen = []
    with create_estimator("mediapipe") as estimator:
        for index, image in enumerate(frames):
            frame = tracker.update(estimator.estimate(image, stamp_ns=index * 33_333_333))
            seen.append({p.track_id: float(np.nanmedian(p.keypoints[:, 0])) for p in frame.people})
    return seen


@pytest.mark.slow
def test_three_real_people_in_one_image_keep_three_ids() -> None:
    """Three real people side by side in each image (composited from real frames, see
    ``three_people_frames``): found together and tracked with three ids, each staying in its place."""
    seen = track_frames(three_people_frames(20))
    full = [people for people in seen if len(people) == 3]
    assert len(full) >= 15, seen  # 18/20 measured
    assert len(set().union(*seen)) == 3, seen
    order = [sorted(people, key=people.get) for people in full]
    assert all(ids == order[0] for ids in order), order  # left, middle, right: always the same ids


@pytest.mark.slow
def test_partners_standing_close_are_both_found() -> None:
    """Two real people a third of a body width apart (composited, see ``partner_frames``): both
    found, two ids. Closer, touching or overlapping, MediaPipe's detector rarely sees the second
    (README: measured 4/40 frames touching, 0-2/40 overlapping)."""
    seen = track_frames(partner_frames(40, offset=1.3))
    assert sum(len(people) == 2 for people in seen) >= 18, seen  # 25/40 measured, all from frame 12 on
    assert len(set().union(*seen)) == 2, seen


def crossing_frames(count: int = 30) -> list[np.ndarray]:
    """Two real people walking past each other: the tai chi performer's frames cropped to her, one
    copy moving right, a mirrored copy moving left and passing in front of her (hiding her)."""
    source = read_rgb_frames(shared_video("ta_chi.mp4"), count)
    height, width = source[0].shape[:2]
    left, right = 100, 275  # the performer's columns in these frames (plus a margin)
    span = right - left
    canvas_width = width  # people must stay large in the detector's square input
    frames = []
    for index, image in enumerate(source):
        canvas = np.full((height, canvas_width, 3), 128, np.uint8)
        progress = index / (count - 1)
        a = round(progress * (canvas_width - span))
        b = round((1 - progress) * (canvas_width - span))
        canvas[:, a:a + span] = image[:, left:right]
        canvas[:, b:b + span] = source[-1 - index][:, left:right][:, ::-1]  # B in front
        frames.append(canvas)
    return frames


@pytest.mark.slow
def test_ids_survive_a_crossing_of_real_people() -> None:
    frames = crossing_frames()
    tracker = PoseTracker()
    seen: list[dict[int, float]] = []
    with create_estimator("mediapipe") as estimator:
        for index, image in enumerate(frames):
            frame = tracker.update(estimator.estimate(image, stamp_ns=index * 33_000_000))
            seen.append({p.track_id: float(np.nanmedian(p.keypoints[:, 0])) for p in frame.people})
    first, last = seen[2], seen[-3]
    assert len(first) == 2 and len(last) == 2, (first, last)
    assert set(first) == set(last), f"ids changed through the crossing: {seen}"
    # the person on the left at the start is the one on the right at the end
    start_left = min(first, key=first.get)
    assert max(last, key=last.get) == start_left


def _walker(x: float, y: float = 200.0) -> PersonPose:
    """A 33-joint stick person 100 px wide and 200 px tall centred at (x, y)."""
    rng = np.random.default_rng(1)
    offsets = rng.uniform([-50, -100], [50, 100], size=(33, 2))
    return _person(offsets + np.array([x, y]))


def test_tracker_predicts_motion_so_hidden_people_keep_their_ids() -> None:
    """A walks right, B walks left; B hides A for 6 frames. When A reappears it is nearer to where B
    was last seen than to where A was: only the predicted positions match them correctly."""
    from dance_recognition.skeleton.pose import PoseFrame

    tracker = PoseTracker()
    names = MEDIAPIPE_POSE_33.joint_names
    ids = []
    for step in range(24):
        a, b = 100 + 20 * step, 560 - 20 * step
        people = [_walker(b)] if 9 <= step < 15 else [_walker(a), _walker(b)]
        frame = PoseFrame("mediapipe_pose_33", names, 800, 400, people=people)
        ids.append([p.track_id for p in tracker.update(frame).people])
    assert ids[0] == [0, 1] and ids[-1] == [0, 1], ids
    assert all(frame_ids == [1] for frame_ids in ids[9:15]), ids


def _track_ids(tracker: PoseTracker, people: list[PersonPose]) -> list[int]:
    from dance_recognition.skeleton.pose import PoseFrame

    frame = PoseFrame("mediapipe_pose_33", MEDIAPIPE_POSE_33.joint_names, 1600, 800, people=people)
    return sorted(p.track_id for p in tracker.update(frame).people)


def test_a_ghost_over_a_tracked_person_gets_no_id_but_a_partner_who_stays_does() -> None:
    """The estimator lays a distorted skeleton over a tracked person for 3 frames (demo video: one
    stretched from the man's arm across the sky): never reported. A partner stepping in touching
    him is reported from the 4th frame in a row; someone appearing apart at once. Ids stay dense."""
    tracker = PoseTracker()
    body = _walker(300)
    stretched = _person(body.keypoints[:, :2] * [3.0, 0.5] + [-700, 120])  # wider, flatter, over his arm
    assert 0.1 < box_overlap(stretched.keypoints, body.keypoints) < 0.9
    ids = [_track_ids(tracker, [_walker(300)])]
    ids += [_track_ids(tracker, [_walker(300), _person(stretched.keypoints[:, :2])]) for _ in range(3)]
    ids.append(_track_ids(tracker, [_walker(300)]))
    ids += [_track_ids(tracker, [_walker(300), _walker(370)]) for _ in range(5)]  # a partner, touching
    ids.append(_track_ids(tracker, [_walker(300), _walker(370), _walker(1200)]))  # a newcomer apart
    assert ids == [[0], [0], [0], [0], [0], [0], [0], [0], [0, 1], [0, 1], [0, 1, 2]]
    assert tracker.live_ids() == {0, 1, 2}


def test_a_person_lost_through_a_flip_is_found_again_within_reach() -> None:
    """The demo video's man is not found for 17 frames of a back flip and comes back upright 1.7
    person sizes away: same id (reach 0.5 + 0.1 sizes per frame lost). Reappearing farther than
    that reach, or after ``max_age``, is someone new."""
    tracker = PoseTracker()
    size = float(np.hypot(100, 200))  # the walker's box diagonal
    flipped = _walker(300)
    flipped.keypoints[:, 1] = 400 - flipped.keypoints[:, 1]  # upside down: no pose comparison holds
    assert _track_ids(tracker, [_walker(300)]) == [0]
    for _ in range(17):
        assert _track_ids(tracker, []) == []
    back = _person(flipped.keypoints[:, :2] + [1.7 * size, 0])
    assert _track_ids(tracker, [back]) == [0]
    for _ in range(3):
        _track_ids(tracker, [])
    too_far = _person(back.keypoints[:, :2] + [1.5 * size, 0])  # 1.5 sizes in 4 frames: beyond 0.9
    assert _track_ids(tracker, [too_far]) == [1]


def test_swinging_limbs_do_not_fling_the_prediction_and_fragments_lose_to_bodies() -> None:
    """Before the man of the demo video was lost his limbs swung through the flip; extrapolated per
    joint for 16 frames they landed on the woman, who took his id. The prediction moves the body as
    one (its joints' median step). Of two detections near a track, a small fragment and a body of
    the track's size, the body continues the track (the woman's head fragment took her id)."""
    tracker = PoseTracker()
    man, woman = _walker(400), _walker(1200)
    assert _track_ids(tracker, [man, woman]) == [0, 1]
    swung = man.keypoints.copy()
    swung[11:23, :2] += [150, 0]  # arms and legs thrown towards the woman, the body in place
    swung[:, :2] += [4, 0]  # while the body drifts 4 px right
    assert _track_ids(tracker, [_person(swung[:, :2]), _walker(1200)]) == [0, 1]
    man_track = next(track for track in tracker.tracks if track.track_id == 0)
    for _ in range(16):
        _track_ids(tracker, [_walker(1200)])
    np.testing.assert_allclose(man_track.predicted()[:, :2] - swung[:, :2], np.tile([4 * 17, 0], (33, 1)), atol=1e-3)
    body = _walker(1220).keypoints[:, :2]
    centre = body.mean(axis=0)
    fragment = _person(centre + (body - centre) * 0.25 + [0, -40])
    people = [fragment, _person(body)]
    _track_ids(tracker, people)
    assert people[1].track_id == 1 and people[0].track_id == -1

# ---------------------------------------------------------------- the offline tools


@pytest.fixture(scope="module")
def two_person_clip(tmp_path_factory) -> Path:
    """The first 40 frames of the pose2sim clip (two people), 544x960, as a labelled video folder."""
    frames = read_rgb_frames(shared_video("people_pose2sim_cam01.mp4"), 40)
    folder = tmp_path_factory.mktemp("clips") / "walk"
    folder.mkdir()
    path = folder / "pair.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (544, 960))
    for image in frames:
        writer.write(cv2.cvtColor(cv2.resize(image, (544, 960)), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.mark.slow
def test_extract_keeps_both_people_and_predict_names_each(two_person_clip: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from dance_recognition.data.dataset import SkeletonDataset

    cli = [sys.executable, "-m", "dance_recognition.cli"]
    output = tmp_path / "pairs"
    result = subprocess.run([*cli, "extract", str(two_person_clip.parent.parent), str(output), "--window", "16",
                             "--stride", "8", "--persons", "2", "--val-fraction", "0"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    dataset = SkeletonDataset(output)
    assert len(dataset) == 4  # windows at 0, 8, 16, 24 of 40 frames
    for index in range(len(dataset)):
        sample, _ = dataset[index]
        assert sample.shape[-1] == 2
        seen = (sample[2] > 0).any(axis=1).mean(axis=0)  # per person: share of frames with a joint
        assert (seen >= 0.8).all(), seen  # both people in (nearly) every frame, none padded
    checkpoint = Path(__file__).resolve().parents[1] / "dance_recognition" / "resources" / "demo_moves.pt"
    result = subprocess.run([*cli, "predict", str(checkpoint), str(two_person_clip), "--mode", "window"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    people = [line for line in result.stdout.splitlines() if line.startswith("person ")]
    assert len(people) == 2, result.stdout
    assert result.stdout.count("whole video:") == 2


def test_a_pose_collapsed_in_place_keeps_its_id() -> None:
    """The estimator sometimes re-interprets a fast pose (weightlifting clip: two frames of a collapsed
    skeleton inside the lifter's box): same place, same person, no new id. A person appearing
    elsewhere still gets a new one."""
    from dance_recognition.skeleton.pose import PoseFrame

    tracker = PoseTracker()
    names = MEDIAPIPE_POSE_33.joint_names
    body = _walker(300)
    centre = body.keypoints[:, :2].mean(axis=0)
    collapsed = _person(centre + (body.keypoints[:, :2] - centre) * [0.3, 0.8] + [0, 20])
    ids = []
    for people in ([body], [collapsed], [_walker(300)], [_walker(700)]):
        ids.append([p.track_id for p in tracker.update(PoseFrame("mediapipe_pose_33", names, 900, 400, people)).people])
    assert ids == [[0], [0], [0], [1]]
