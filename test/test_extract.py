"""`extract`: real MediaPipe over short clips cut from real footage, into the dataset format."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import installed_cli, shared_video

from dance_recognition.data.dataset import SkeletonDataset, read_header
from dance_recognition.data.extract import ExtractConfig, ExtractError, extract
from dance_recognition.media.video import VideoReader, VideoWriter

CLIP_FRAMES = 40


def _cut(source: Path, target: Path, start: int, frames: int = CLIP_FRAMES) -> None:
    with VideoReader(source) as reader:
        writer = VideoWriter(target, reader.fps, reader.declared_size)
        for index, image in enumerate(reader):
            if index >= start + frames:
                break
            if index >= start:
                writer.write(image)
        writer.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """<class>/<video> folders: two clips of each real video, plus broken files."""
    root = tmp_path_factory.mktemp("videos")
    for label, name in (("tai_chi", "ta_chi.mp4"), ("lifting", "clean_and_jerk.mp4")):
        for number, start in enumerate((0, 100)):
            _cut(shared_video(name), root / label / f"{label}_{number}.mp4", start)
    return root


def _broken(folder: Path, clips: Path) -> Path:
    """A copy of ``clips`` with a junk file, a truncated file and a zero-byte file added."""
    shutil.copytree(clips, folder)
    (folder / "lifting" / "junk.mp4").write_text("not a video")
    good = (clips / "tai_chi" / "tai_chi_0.mp4").read_bytes()
    (folder / "tai_chi" / "truncated.mp4").write_bytes(good[: len(good) // 2])
    (folder / "tai_chi" / "empty.mp4").write_bytes(b"")
    return folder


CONFIG = ExtractConfig(window=16, stride=12, val_fraction=0.5, seed=3)


def test_extract_folders_reports_bad_videos_and_resumes(clips, tmp_path) -> None:
    videos = _broken(tmp_path / "videos", clips)
    summary = extract(videos, tmp_path / "ds", CONFIG, labels="folders", preview=2)
    assert set(summary.failed) == {"lifting/junk.mp4", "tai_chi/truncated.mp4", "tai_chi/empty.mp4"}
    assert "cannot be opened" in summary.failed["lifting/junk.mp4"]
    ok = {name: r for name, r in summary.videos.items() if r["status"] == "ok"}
    assert len(ok) == 4 and all(r["frames"] == CLIP_FRAMES for r in ok.values())

    dataset = SkeletonDataset(tmp_path / "ds")
    assert dataset.header.extra["extract"]["complete"] is True
    assert dataset.class_names == ["lifting", "tai_chi"] and dataset.layout == "mediapipe_pose_33"
    assert len(dataset) == 4 * 3  # windows at 0, 12, 24 in 40 frames
    splits = {}
    for sample in dataset.samples:
        splits.setdefault(sample.source, set()).add(sample.split)
    assert all(len(s) == 1 for s in splits.values()), "a video's windows must share one split"
    assert {next(iter(s)) for s in splits.values()} == {"train", "val"}
    array, _ = dataset[0]
    info = dataset.samples[0]
    width, height = info.image_size
    present = array[2] > 0
    assert present.mean() > 0.5 and array.shape == (3, 16, 33, 1)
    assert (array[0][present] >= -width * 0.2).all() and (array[0][present] <= width * 1.2).all()
    assert (array[1][present] >= -height * 0.2).all() and (array[1][present] <= height * 1.2).all()
    assert (array[:, ~present] == 0).all()
    previews = list((tmp_path / "ds_preview").rglob("*.mp4"))  # the first 2 videos; junk.mp4 has none
    assert [p.relative_to(tmp_path / "ds_preview").as_posix() for p in previews] == ["lifting/lifting_0.mp4"]
    assert VideoReader(previews[0]).declared_frames == CLIP_FRAMES

    again = extract(videos, tmp_path / "ds", CONFIG, labels="folders")
    assert again.skipped == 4 and len(SkeletonDataset(tmp_path / "ds")) == 12


def test_extract_window_content_matches_the_pose_backend(clips, tmp_path) -> None:
    from dance_recognition.pose import create_estimator

    folder = tmp_path / "v" / "tai_chi"
    folder.mkdir(parents=True)
    shutil.copy(clips / "tai_chi" / "tai_chi_0.mp4", folder)
    extract(tmp_path / "v", tmp_path / "ds", ExtractConfig(window=CLIP_FRAMES, val_fraction=0), labels="folders")
    array, _ = SkeletonDataset(tmp_path / "ds")[0]
    with VideoReader(folder / "tai_chi_0.mp4") as reader, create_estimator("mediapipe") as estimator:
        expected = np.stack([np.nan_to_num(estimator.estimate(image).people[0].keypoints) for image in reader])
    np.testing.assert_allclose(array[..., 0].transpose(1, 2, 0), expected, atol=1e-3)


def test_extract_labels_from_filenames_and_csv(clips, tmp_path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in clips.rglob("*.mp4"):
        shutil.copy(path, flat / path.name)  # tai_chi_0.mp4 ... : <class>_<n>.mp4
    (flat / "nolabel.mp4").write_bytes((clips / "tai_chi" / "tai_chi_0.mp4").read_bytes())
    summary = extract(flat, tmp_path / "a", ExtractConfig(window=16, stride=16, val_fraction=0), labels="filenames")
    assert "does not follow <class>_<n>" in summary.failed["nolabel.mp4"]
    assert SkeletonDataset(tmp_path / "a").class_counts() == {"lifting": 4, "tai_chi": 4}

    segments = tmp_path / "segments.csv"
    segments.write_text("video,start,end,label\n"
                        "tai_chi_0.mp4,0,0.6,slow\ntai_chi_0.mp4,0.6,,fast\nlifting_0.mp4,0,,jump\n")
    summary = extract(flat, tmp_path / "b", ExtractConfig(window=16, stride=16, val_fraction=0), labels="csv",
                      csv_path=segments, class_names=["slow", "fast"])
    assert "unknown label(s) jump" in summary.failed["lifting_0.mp4"]
    dataset = SkeletonDataset(tmp_path / "b")
    assert dataset.class_names == ["slow", "fast"]
    ranges = sorted((s.start_frame, s.end_frame, dataset.class_names[s.label]) for s in dataset.samples)
    fps = VideoReader(flat / "tai_chi_0.mp4").fps
    assert all(end <= round(0.6 * fps) for start, end, label in ranges if label == "slow")
    assert all(start >= round(0.6 * fps) for start, end, label in ranges if label == "fast")


def test_extract_cli_errors_are_one_line(tmp_path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    result = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "extract", str(empty), str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("dance-recognition extract: error: no videos")
    with pytest.raises(ExtractError, match="header row"):
        (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
        (empty / "x.mp4").write_bytes(b"")
        extract(empty, tmp_path / "o", ExtractConfig(), labels="csv", csv_path=tmp_path / "bad.csv")
    with pytest.raises(ExtractError, match="need --csv FILE"):
        extract(empty, tmp_path / "o", ExtractConfig(), labels="csv")


@pytest.mark.slow
def test_extract_cli_with_two_workers_equals_one_worker(clips, tmp_path) -> None:
    """Two workers through the INSTALLED wrapper (spawned workers re-import it as __main__)."""
    outputs = []
    for workers in (1, 2):
        output = tmp_path / f"w{workers}"
        cli = [sys.executable, "-m", "dance_recognition.cli"] if workers == 1 else installed_cli()
        result = subprocess.run([*cli, "extract", str(clips), str(output),
                                 "--window", "16", "--stride", "12", "--workers", str(workers)],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "videos: 4 (4 ok, 0 failed" in result.stdout
        report = json.loads((tmp_path / f"w{workers}_summary.json").read_text())
        assert report["failed"] == {}
        dataset = SkeletonDataset(output)
        order = sorted(range(len(dataset)), key=lambda i: (dataset.samples[i].source, dataset.samples[i].start_frame))
        outputs.append((np.stack([dataset[i][0] for i in order]), [dataset.samples[i].split for i in order]))
    np.testing.assert_allclose(outputs[0][0], outputs[1][0], atol=1e-4)
    assert outputs[0][1] == outputs[1][1]


@pytest.mark.slow
def test_a_failure_while_writing_cancels_the_queued_videos(clips, tmp_path) -> None:
    """Every processed video writes its preview, so the previews count the videos that ran."""
    videos = tmp_path / "videos"
    for copy in range(3):
        shutil.copytree(clips, videos / f"set{copy}", dirs_exist_ok=True)
    total = len(list(videos.rglob("*.mp4")))

    def disk_full(result) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        extract(videos, tmp_path / "ds", CONFIG, labels="filenames", workers=2, preview=total, on_result=disk_full)
    processed = len(list((tmp_path / "ds_preview").rglob("*.mp4")))
    # at most: the first result, one more running, and what the pool had already handed to its call
    # queue (workers + 1 in CPython); before, every one of the 12 videos ran
    assert processed <= 1 + 1 + 3 + 1, f"{processed} of {total} videos were processed after the failure"
    assert read_header(tmp_path / "ds").extra["extract"]["complete"] is False  # resumable, and says so
