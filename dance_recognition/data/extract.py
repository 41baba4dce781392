"""Videos -> skeleton dataset (the successor of the original project's ``extract_data.py``).

Each video is decoded once; every frame goes through the pose backend and the tracker, giving a
keypoint sequence per tracked person. Labelled segments of the video (the whole video, or the
rows of a CSV) are cut into fixed windows with a stride (or kept whole and fitted to the window
with a padding policy); each window keeps the ``persons`` most present people in it (seen in the
most frames; the summed confidence breaks ties). Windows
of one video all go to the same split, chosen per video (stratified by class, seeded), so no
motion seen in training leaks into validation through an overlapping window.

Failures are per video (unreadable, zero frames, no person, size change, unknown label): the
video is reported with its reason and the others carry on. The dataset is committed after every
video, so an interrupted run resumes where it stopped (videos already done are skipped).
"""
from __future__ import annotations

import csv
import logging
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dance_recognition.data.dataset import DatasetWriter, SampleInfo, SkeletonDataset, read_header
from dance_recognition.errors import DanceRecognitionError
from dance_recognition.media.drawing import draw_pose_frame
from dance_recognition.media.video import VideoError, VideoReader, VideoWriter, find_videos
from dance_recognition.pose.base import PoseEstimator, backend_layout, create_estimator
from dance_recognition.skeleton.arrays import channels_first
from dance_recognition.skeleton.conversion import convert_keypoints
from dance_recognition.skeleton.pose import PoseFrame
from dance_recognition.skeleton.tracking import PoseTracker
from dance_recognition.skeleton.windows import PAD_POLICIES, fit_window

log = logging.getLogger(__name__)
LABEL_SOURCES = ("folders", "filenames", "csv")


class ExtractError(DanceRecognitionError):
    """The extraction as a whole cannot start (no videos, bad CSV, incompatible output)."""


@dataclass
class ExtractConfig:
    backend: str = "mediapipe"
    backend_options: dict = field(default_factory=dict)
    layout: str | None = None  # convert to this layout; None = the backend's own
    window: int = 64
    stride: int = 32
    whole_clips: bool = False  # one sample per labelled segment, fitted to ``window`` with ``pad``
    pad: str = "zeros"
    persons: int = 1
    min_presence: float = 0.5  # share of a window's frames in which its main person must be seen
    val_fraction: float = 0.2
    seed: int = 0

    def check(self) -> None:
        if self.window < 1 or self.stride < 1 or self.persons < 1:
            raise ExtractError("window, stride and persons must be positive")
        if self.pad not in PAD_POLICIES:
            raise ExtractError(f"unknown pad policy {self.pad!r}; choose one of {', '.join(PAD_POLICIES)}")
        if not 0 <= self.val_fraction < 1 or not 0 <= self.min_presence <= 1:
            raise ExtractError("val fraction must be in [0, 1) and min presence in [0, 1]")

    def dataset_settings(self) -> dict:
        """What must not change between a run and its resumption."""
        keys = ("backend", "backend_options", "layout", "window", "stride", "whole_clips", "pad", "persons",
                "min_presence")
        return {key: getattr(self, key) for key in keys}


@dataclass
class Segment:
    label: str
    start_s: float = 0.0
    end_s: float = float("inf")


@dataclass
class VideoJob:
    path: Path
    name: str  # relative to the input folder: the video's identity in the dataset
    segments: list[Segment]
    split: str = "train"
    preview: Path | None = None
    error: str = ""  # set when the job cannot run (e.g. unknown label)


@dataclass
class VideoResult:
    name: str
    status: str  # "ok" or "failed"
    reason: str = ""
    warning: str = ""
    frames: int = 0
    frames_without_person: int = 0
    windows: list[tuple[np.ndarray, SampleInfo, str]] = field(default_factory=list)  # array, info, class name
    pose_seconds: float = 0.0
    total_seconds: float = 0.0

    def record(self) -> dict:
        counts = Counter(name for _, _, name in self.windows)
        return {"status": self.status, "reason": self.reason, "warning": self.warning, "frames": self.frames,
                "frames_without_person": self.frames_without_person, "windows": dict(counts)}


# ---------------------------------------------------------------- labels and splits

def label_from_folder(name: str) -> str:
    parts = Path(name).parts
    if len(parts) < 2:
        raise ValueError("not inside a class folder (expected <class>/<video>)")
    return parts[0]


def label_from_filename(name: str) -> str:
    stem = Path(name).stem
    label, _, number = stem.rpartition("_")
    if not label or not number.isdigit():
        raise ValueError(f"file name {Path(name).name!r} does not follow <class>_<n>.<ext>")
    return label


def read_segments_csv(path: Path) -> dict[str, list[Segment]]:
    """CSV with a header ``video,start,end,label`` (seconds; empty end = to the end of the video)."""
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as error:
        raise ExtractError(f"cannot read the segments CSV {path}: {error.strerror}") from None
    required = {"video", "start", "end", "label"}
    if not rows or not required <= set(rows[0]):
        raise ExtractError(f"{path} needs a header row with columns {', '.join(sorted(required))} and data rows")
    segments: dict[str, list[Segment]] = defaultdict(list)
    for line, row in enumerate(rows, start=2):
        if any(row.get(column) is None for column in required):
            raise ExtractError(f"{path}:{line}: a row needs the 4 columns video,start,end,label "
                               f"(empty end = to the end of the video); this one has "
                               f"{sum(value is not None for key, value in row.items() if key is not None)}")
        try:
            start = float(row["start"] or 0)
            end = float(row["end"]) if row["end"] not in ("", None) else float("inf")
        except ValueError:
            raise ExtractError(f"{path}:{line}: start/end must be seconds: {row['start']!r}, {row['end']!r}") from None
        if end <= start or not row["label"].strip():
            raise ExtractError(f"{path}:{line}: a segment needs end > start and a label")
        segments[row["video"].strip()].append(Segment(row["label"].strip(), start, end))
    return dict(segments)


def assign_splits(jobs: list[VideoJob], val_fraction: float, seed: int) -> None:
    """Per class (of a video's first segment), a seeded shuffle of its videos; the first
    ``round(n * val_fraction)`` (at least one when a class has two or more videos) go to val."""
    by_class: dict[str, list[VideoJob]] = defaultdict(list)
    for job in jobs:
        if job.segments:
            by_class[job.segments[0].label].append(job)
    for label, members in sorted(by_class.items()):
        members.sort(key=lambda j: j.name)
        random.Random(f"{seed}:{label}").shuffle(members)
        count = round(len(members) * val_fraction)
        if val_fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        for index, job in enumerate(members):
            job.split = "val" if index < count else "train"


def plan_jobs(input_dir: Path, labels: str, csv_path: Path | None, class_names: list[str] | None) -> list[VideoJob]:
    if labels not in LABEL_SOURCES:
        raise ExtractError(f"unknown label source {labels!r}; choose one of {', '.join(LABEL_SOURCES)}")
    if not input_dir.is_dir():
        raise ExtractError(f"{input_dir} is not a folder")
    videos = find_videos(input_dir)
    if not videos:
        raise ExtractError(f"no videos (*.mp4, *.avi, *.mov, ...) under {input_dir}")
    if labels == "csv" and csv_path is None:
        raise ExtractError("labels from a CSV need --csv FILE")
    segments_by_video = read_segments_csv(csv_path) if labels == "csv" else {}
    jobs = []
    for path in videos:
        name = path.relative_to(input_dir).as_posix()
        job = VideoJob(path=path, name=name, segments=[])
        try:
            if labels == "csv":
                job.segments = segments_by_video.get(name) or segments_by_video.get(path.name) or []
                if not job.segments:
                    continue  # a video the CSV does not mention is not part of the dataset
            else:
                job.segments = [Segment(label_from_folder(name) if labels == "folders" else label_from_filename(name))]
        except ValueError as error:
            job.error = str(error)
        unknown = sorted({s.label for s in job.segments} - set(class_names)) if class_names else []
        if unknown:
            job.error = f"unknown label(s) {', '.join(unknown)} (known classes: {', '.join(class_names)})"
        jobs.append(job)
    named = {p.relative_to(input_dir).as_posix() for p in videos} | {p.name for p in videos}
    missing = sorted(set(segments_by_video) - named)
    if missing:
        log.warning("the CSV names videos that are not under %s: %s", input_dir, ", ".join(missing))
    if not jobs:
        raise ExtractError(f"none of the videos under {input_dir} is labelled by {csv_path}")
    return jobs


# ---------------------------------------------------------------- one video

@dataclass
class TrackedVideo:
    """What pose estimation and tracking found in a video: each track's keypoints and counts."""

    tracks: dict[int, np.ndarray]  # track id -> (frames, V, 3) keypoints, zeros where unseen
    frames: int
    frames_without_person: int
    pose_seconds: float


def track_sequences(reader: VideoReader, estimator: PoseEstimator, target_layout: str,
                    preview: VideoWriter | None = None, progress: tqdm | None = None) -> TrackedVideo:
    """Runs pose + tracking over every frame of ``reader``."""
    tracker = PoseTracker()
    seen: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
    without_person, pose_seconds = 0, 0.0
    for index, image in enumerate(reader):
        started = time.perf_counter()
        frame = estimator.estimate(image, stamp_ns=round(index * 1e9 / reader.fps))
        pose_seconds += time.perf_counter() - started
        tracker.update(frame)
        without_person += not frame.people
        for track_id, keypoints in frame_keypoints(frame, target_layout).items():
            seen[track_id][index] = keypoints
        if preview is not None:
            preview.write(draw_pose_frame(image, frame, copy=False))
        if progress is not None:
            progress.update()
    return TrackedVideo(stack_tracks(seen, reader.frames_read), reader.frames_read, without_person, pose_seconds)


def frame_keypoints(frame: PoseFrame, target_layout: str) -> dict[int, np.ndarray]:
    """Track id -> (V, 3) keypoints of one frame in ``target_layout``, missing joints as zeros
    (the dataset convention); shared by video extraction and bag conversion."""
    people = {}
    for person in frame.people:
        keypoints = person.keypoints
        if frame.layout != target_layout:
            keypoints = convert_keypoints(keypoints, frame.layout, target_layout)
        people[person.track_id] = np.nan_to_num(keypoints, nan=0.0)
    return people


def stack_tracks(seen: dict[int, dict[int, np.ndarray]], frames: int) -> dict[int, np.ndarray]:
    """Track id -> (frames, V, 3) sequence from {track id: {frame index: (V, 3)}}, zeros where unseen."""
    tracks = {}
    for track_id, by_index in seen.items():
        sequence = np.zeros((frames, *next(iter(by_index.values())).shape), np.float32)
        for index, keypoints in by_index.items():
            sequence[index] = keypoints
        tracks[track_id] = sequence
    return tracks


def _presence_rank(sequence: np.ndarray) -> tuple[int, float]:
    """Sort key of a track in a window: most frames seen first, then the most confident."""
    return -int((sequence[..., 2] > 0).any(axis=1).sum()), -float(sequence[..., 2].sum())


def cut_windows(tracks: dict[int, np.ndarray], start: int, end: int, config: ExtractConfig
                ) -> Iterator[tuple[int, int, np.ndarray, int]]:
    """(first frame, end frame, (C, T, V, M) sample, main track id) for each usable window."""
    if end - start <= 0 or not tracks:
        return
    if config.whole_clips or end - start <= config.window:
        spans = [(start, end)]
    else:
        spans = [(s, s + config.window) for s in range(start, end - config.window + 1, config.stride)]
    for first, last in spans:
        ranked = sorted(tracks.items(), key=lambda item: _presence_rank(item[1][first:last]))
        chosen = ranked[: config.persons]
        presence = float((chosen[0][1][first:last, :, 2] > 0).any(axis=1).mean())
        if presence < config.min_presence:
            continue
        persons = []
        for _, sequence in chosen:
            crop = "uniform" if config.whole_clips else "newest"
            persons.append(fit_window(sequence[first:last], config.window, pad=config.pad, crop=crop))
        while len(persons) < config.persons:
            persons.append(np.zeros_like(persons[0]))
        sample = channels_first(np.stack(persons))
        yield first, last, np.ascontiguousarray(sample, dtype=np.float32), chosen[0][0]


def extract_video(job: VideoJob, estimator: PoseEstimator, config: ExtractConfig, target_layout: str,
                  show_frames: bool = False) -> VideoResult:
    """Never raises for a bad video: the result says what went wrong."""
    result = VideoResult(name=job.name, status="ok")
    started = time.perf_counter()
    if job.error:
        result.status, result.reason = "failed", job.error
        return result
    estimator.reset()
    try:
        tracked, fps, size = _track_video(job, estimator, target_layout, show_frames, result)
    except VideoError as error:
        result.status, result.reason = "failed", str(error)
        return result
    result.frames, result.frames_without_person = tracked.frames, tracked.frames_without_person
    result.pose_seconds = tracked.pose_seconds
    if result.frames_without_person == result.frames:
        result.status, result.reason = "failed", f"no person detected in any of its {result.frames} frames"
        return result
    result.windows = list(_segment_windows(job, tracked, fps, size, config))
    if not result.windows:
        result.status = "failed"
        result.reason = (f"no window with a person in at least {config.min_presence:.0%} of its frames "
                         f"({result.frames} frames, {result.frames_without_person} without a person)")
    result.total_seconds = time.perf_counter() - started
    return result


def _track_video(job: VideoJob, estimator: PoseEstimator, target_layout: str, show_frames: bool,
                 result: VideoResult) -> tuple[TrackedVideo, float, tuple[int, int]]:
    """Pose + tracking over the job's video (and its preview video): (tracks, fps, image size)."""
    with VideoReader(job.path) as reader:
        progress = tqdm(total=reader.declared_frames or None, desc=job.name, unit="frame", leave=False,
                        disable=not show_frames)
        preview = None
        try:
            if job.preview is not None:
                preview = VideoWriter(job.preview, reader.fps, reader.declared_size)
            tracked = track_sequences(reader, estimator, target_layout, preview, progress)
        finally:
            progress.close()
            if preview is not None:
                preview.close()
        if reader.truncated:
            result.warning = f"truncated: decoded {reader.frames_read} of {reader.declared_frames} declared frames"
        return tracked, reader.fps, reader.size


def _segment_windows(job: VideoJob, tracked: TrackedVideo, fps: float, size: tuple[int, int],
                     config: ExtractConfig) -> Iterator[tuple[np.ndarray, SampleInfo, str]]:
    """(sample, info, class name) of every usable window of every labelled segment."""
    for segment in job.segments:
        first = max(0, round(segment.start_s * fps))
        last = tracked.frames if segment.end_s == float("inf") else min(tracked.frames, round(segment.end_s * fps))
        for start, end, sample, track_id in cut_windows(tracked.tracks, first, last, config):
            info = SampleInfo(label=-1, split=job.split, source=job.name, start_frame=start, end_frame=end,
                              person=track_id, image_size=size, num_frames=min(end - start, config.window))
            yield sample, info, segment.label


# ---------------------------------------------------------------- workers

_worker_estimator: PoseEstimator | None = None


def _init_worker(backend: str, options: dict) -> None:
    global _worker_estimator
    _worker_estimator = create_estimator(backend, **options)


def _run_in_worker(job: VideoJob, config: ExtractConfig, target_layout: str) -> VideoResult:
    assert _worker_estimator is not None
    return extract_video(job, _worker_estimator, config, target_layout)


def run_jobs(jobs: list[VideoJob], config: ExtractConfig, target_layout: str, workers: int) -> Iterator[VideoResult]:
    """Results in completion order; in-process for one worker (with a per-frame bar)."""
    if workers <= 1:
        estimator = create_estimator(config.backend, **config.backend_options)
        try:
            for job in jobs:
                yield extract_video(job, estimator, config, target_layout, show_frames=True)
        finally:
            estimator.close()
        return
    # spawn: MediaPipe's and torch's threads do not survive fork safely
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(config.backend, config.backend_options))
    try:
        futures = [pool.submit(_run_in_worker, job, config, target_layout) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
    except BaseException:  # the consumer failed (disk full...) or stopped: queued videos never start
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


# ---------------------------------------------------------------- the whole extraction

@dataclass
class ExtractSummary:
    output: Path
    videos: dict[str, dict]
    class_names: list[str]
    windows_per_class: dict[str, dict[str, int]]  # split -> class -> windows
    skipped: int = 0  # already done in an earlier run
    pose_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def failed(self) -> dict[str, str]:
        return {name: r["reason"] for name, r in self.videos.items() if r["status"] != "ok"}

    def lines(self) -> list[str]:
        ok = [r for r in self.videos.values() if r["status"] == "ok"]
        lines = [
            f"dataset: {self.output}",
            f"videos: {len(self.videos)} ({len(ok)} ok, {len(self.failed)} failed, {self.skipped} done earlier)",
            f"frames: {sum(r['frames'] for r in self.videos.values())}, without a person: "
            f"{sum(r['frames_without_person'] for r in self.videos.values())}",
        ]
        for split, counts in sorted(self.windows_per_class.items()):
            lines.append(f"{split} windows: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in self.class_names))
        lines += [f"  warning {name}: {r['warning']}" for name, r in sorted(self.videos.items()) if r.get("warning")]
        lines += [f"  FAILED {name}: {reason}" for name, reason in sorted(self.failed.items())]
        return lines


def extract(input_dir: str | Path, output: str | Path, config: ExtractConfig, labels: str = "folders",
            csv_path: str | Path | None = None, class_names: list[str] | None = None, workers: int = 1,
            preview: int = 0, on_result: Callable[[VideoResult], None] | None = None) -> ExtractSummary:
    """Extracts every labelled video of ``input_dir`` into the dataset ``output``; a re-run with
    the same settings resumes (videos done earlier are skipped)."""
    config.check()
    input_dir, output = Path(input_dir), Path(output)
    target_layout = config.layout or backend_layout(config.backend, **config.backend_options)
    jobs = plan_jobs(input_dir, labels, Path(csv_path) if csv_path else None, class_names)
    assign_splits(jobs, config.val_fraction, config.seed)
    classes = list(class_names) if class_names else sorted({s.label for job in jobs for s in job.segments})
    done = _videos_done_earlier(output, config)
    writer = DatasetWriter(output, target_layout, classes, frames=config.window, persons=config.persons,
                           append=bool(done) or (output / "dataset.json").exists())
    todo = [job for job in jobs if job.name not in done]
    for job in todo[:preview]:
        job.preview = output.parent / f"{output.name}_preview" / f"{Path(job.name).with_suffix('').as_posix()}.mp4"
    summary = ExtractSummary(output=output, videos=dict(done), class_names=writer.class_names, windows_per_class={},
                             skipped=len(jobs) - len(todo))
    started = time.perf_counter()
    extract_state = {"settings": config.dataset_settings(), "input": str(input_dir)}
    _write_results(run_jobs(todo, config, target_layout, workers), len(todo), writer, summary, extract_state,
                   on_result)
    if (output / "dataset.json").exists():
        writer.header.extra.setdefault("extract", {})["complete"] = True
        writer.commit()
    summary.total_seconds = time.perf_counter() - started
    if (output / "dataset.json").exists():
        dataset = SkeletonDataset(output)
        summary.class_names = dataset.class_names
        for split in ("train", "val"):
            summary.windows_per_class[split] = dataset.class_counts(split)
    return summary


def _videos_done_earlier(output: Path, config: ExtractConfig) -> dict[str, dict]:
    """The videos an earlier run of the same settings extracted into ``output`` (a resume)."""
    if not (output / "dataset.json").exists():
        return {}
    previous = read_header(output).extra.get("extract", {})
    if previous.get("settings") != config.dataset_settings():
        raise ExtractError(f"{output} was extracted with other settings ({previous.get('settings')}); "
                           "use another output folder")
    return {name: r for name, r in previous.get("videos", {}).items() if r["status"] == "ok"}


def _write_results(results: Generator[VideoResult, None, None], count: int, writer: DatasetWriter,
                   summary: ExtractSummary, extract_state: dict,
                   on_result: Callable[[VideoResult], None] | None) -> None:
    """Each video's windows into the dataset, committed after every video: an interruption loses
    at most the current one. On any error the queued videos are cancelled."""
    try:
        with tqdm(total=count, desc="videos", unit="video", disable=not count) as bar:
            for result in results:
                for sample, info, class_name in result.windows:
                    info.label = writer.label_of(class_name)
                    writer.add(sample, info)
                summary.videos[result.name] = result.record()
                # "complete": false until the last video: an interrupted run's dataset says so
                writer.header.extra["extract"] = {**extract_state, "videos": summary.videos, "complete": False}
                writer.commit()
                summary.pose_seconds += result.pose_seconds
                bar.update()
                if on_result is not None:
                    on_result(result)
    except BaseException:
        results.close()  # now, not when the generator is collected: cancels the queued videos
        writer.abort()
        raise


def summary_json(summary: ExtractSummary) -> dict:
    data = asdict(summary)
    data["output"] = str(summary.output)
    data["failed"] = summary.failed
    return data


__all__ = ["ExtractConfig", "ExtractError", "ExtractSummary", "extract"]
