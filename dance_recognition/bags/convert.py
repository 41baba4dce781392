"""Bags -> the skeleton dataset ``train`` reads (``dance-recognition bag2dataset``).

Per bag: its skeleton frames (the ``dance_recognition/msg/Skeleton`` topic, or the pose backend
run over a ``sensor_msgs/Image`` / ``CompressedImage`` topic when the bag has no skeletons),
ordered by their own stamps (``sequences``), its label segments (one label for the whole bag,
a segments CSV, or the LabelEvent topic, checked by ``labels``), then the same windows as
``extract`` (``cut_windows``: window, stride, persons, padding, minimum presence) written by
the same ``DatasetWriter``. Windows are cut per track id when a sample holds one person, so
every performer gives samples of their own, labelled by their own segments.

Splits are chosen per take (a labelled segment) or per bag, stratified and seeded like
``extract`` (``assign_splits``): windows of one take never land in two splits. Every bag is
committed when done, so an interrupted run resumes; a failing bag is reported with its reason
and the others go on.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dance_recognition.bags.errors import BagError, LabelError
from dance_recognition.bags.labels import (
    ALL_PEOPLE,
    LABEL_EVENT_TYPE,
    LabelEvent,
    LabelSegment,
    check_segments,
    csv_segments_for,
    read_segments_csv,
    segments_from_events,
)
from dance_recognition.bags.reader import Bag, open_bag
from dance_recognition.bags.sequences import Run, SequenceStats, build_runs
from dance_recognition.data.dataset import DatasetWriter, SampleInfo, SkeletonDataset, read_header
from dance_recognition.data.extract import ExtractConfig, Segment, VideoJob, assign_splits, cut_windows
from dance_recognition.media.images import ImageConversionError, compressed_image_to_rgb, raw_image_to_rgb
from dance_recognition.pose.base import PoseEstimator, backend_layout, create_estimator
from dance_recognition.skeleton.messages import SkeletonMessageError, msg_to_pose_frame, stamp_to_ns
from dance_recognition.skeleton.pose import PoseFrame
from dance_recognition.skeleton.tracking import PoseTracker

log = logging.getLogger(__name__)

SKELETON_TYPE = "dance_recognition/msg/Skeleton"
IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
SPLIT_UNITS = ("take", "bag")


@dataclass
class BagConversionConfig:
    windows: ExtractConfig = field(default_factory=ExtractConfig)  # window, stride, persons, backend, split
    skeleton_topic: str = ""  # "" = the bag's Skeleton topic
    image_topic: str = ""  # "" = the bag's Image/CompressedImage topic, when it has no skeletons
    label_topic: str = ""  # "" = the bag's LabelEvent topic
    label: str = ""  # one label for every bag
    csv: Path | None = None
    split_by: str = "take"
    max_gap_s: float = 1.0

    def check(self) -> None:
        self.windows.check()
        if self.split_by not in SPLIT_UNITS:
            raise BagError(f"unknown split unit {self.split_by!r}; choose one of {', '.join(SPLIT_UNITS)}")
        if self.max_gap_s <= 0:
            raise BagError("the maximum gap must be positive (seconds)")
        if self.label and self.csv:
            raise BagError("give either one label per bag (--label) or a segments CSV (--csv), not both")

    def settings(self) -> dict:
        """What must not change between a run and its resumption."""
        return self.windows.dataset_settings() | {"max_gap_s": self.max_gap_s}


@dataclass
class BagPlan:
    """What one bag will give: its topics and label segments (before any frame is read)."""

    path: Path
    name: str
    segments: list[LabelSegment] = field(default_factory=list)
    frames_topic: str = ""
    from_images: bool = False
    layout: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""
    splits: list[str] = field(default_factory=list)  # one per segment


@dataclass
class BagResult:
    name: str
    status: str = "ok"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    topic: str = ""
    frames: int = 0
    frames_without_person: int = 0
    windows: list[tuple[np.ndarray, SampleInfo, str]] = field(default_factory=list)
    pose_seconds: float = 0.0
    seconds: float = 0.0

    def record(self) -> dict:
        counts = Counter(name for _, _, name in self.windows)
        return {"status": self.status, "reason": self.reason, "notes": self.notes, "topic": self.topic,
                "frames": self.frames, "frames_without_person": self.frames_without_person, "windows": dict(counts)}


# ---------------------------------------------------------------- planning: topics and labels

def bag_name(path: Path) -> str:
    return str(path).rstrip("/") or str(path)


def _choose_topic(bag: Bag, wanted: str, msgtypes: tuple[str, ...], what: str) -> str:
    if wanted:
        if wanted not in bag.topics:
            raise BagError(f"{bag.path}: has no topic {wanted}; its topics: {bag.describe_topics()}")
        if bag.topics[wanted].msgtype not in msgtypes:
            raise BagError(f"{bag.path}: topic {wanted} has type {bag.topics[wanted].msgtype}, not {what}")
        return wanted
    candidates = [t for t in bag.topics_of_type(*msgtypes) if bag.topics[t].count > 0]
    if len(candidates) > 1:
        raise BagError(f"{bag.path}: several {what} topics ({', '.join(candidates)}); choose one with the topic option")
    return candidates[0] if candidates else ""


def _label_events(bag: Bag, topic: str) -> list[LabelEvent]:
    events = []
    for message in bag.messages([topic]):
        msg = bag.decode(message)
        events.append(LabelEvent(stamp_to_ns(msg.header.stamp), int(msg.event), str(msg.label), int(msg.track_id)))
    return events


def plan_bag(bag: Bag, config: BagConversionConfig, csv_rows, class_names: list[str] | None) -> BagPlan:
    """Topics and checked label segments of one bag; raises BagError/LabelError naming the bag."""
    plan = BagPlan(bag.path, bag_name(bag.path), notes=list(bag.notes))
    # an image topic named explicitly wins over the bag's skeletons (re-estimating poses from images)
    skeletons = "" if config.image_topic else _choose_topic(bag, config.skeleton_topic, (SKELETON_TYPE,),
                                                            SKELETON_TYPE)
    images = "" if skeletons else _choose_topic(bag, config.image_topic, (IMAGE_TYPE, COMPRESSED_TYPE),
                                                "sensor_msgs/msg/Image or CompressedImage")
    if not skeletons and not images:
        raise BagError(f"{bag.path}: needs a {SKELETON_TYPE} topic, or a sensor_msgs/msg/Image or CompressedImage "
                       f"topic for the pose backend; it has: {bag.describe_topics()}")
    plan.frames_topic, plan.from_images = skeletons or images, not skeletons
    bag.check_decodable(plan.frames_topic)
    if bag.start_ns is None or bag.end_ns is None or not bag.topics[plan.frames_topic].count:
        raise BagError(f"{bag.path}: topic {plan.frames_topic} holds no message")
    start_ns, end_ns = bag.start_ns, bag.end_ns + 1
    if config.label:  # every frame, whatever its stamp: not checked against the receive-time range
        plan.segments = [LabelSegment(config.label, 0, None, ALL_PEOPLE, "--label")]
        if class_names and config.label not in class_names:
            raise LabelError(f"{bag.path}: label {config.label} not in the classes file (known: "
                             f"{', '.join(class_names)}); add it there or fix --label")
        return plan
    if config.csv is not None:
        plan.segments = csv_segments_for(bag.path, csv_rows, start_ns, config.csv)
        if not plan.segments:
            raise LabelError(f"{bag.path}: the segments CSV {config.csv} has no row for this bag (its bag column must "
                             f"be {bag.path.name!r} or the path as given)")
    else:
        topic = _choose_topic(bag, config.label_topic, (LABEL_EVENT_TYPE,), LABEL_EVENT_TYPE)
        if not topic:
            raise LabelError(f"{bag.path}: no labels: the bag has no {LABEL_EVENT_TYPE} messages; label it with "
                             "--label CLASS (the whole bag) or --csv SEGMENTS")
        bag.check_decodable(topic)
        plan.segments, notes = segments_from_events(_label_events(bag, topic), f"topic {topic}")
        plan.notes += notes
        if not plan.segments:
            raise LabelError(f"{bag.path}: the label topic {topic} holds no complete START event")
    plan.notes += check_segments(plan.segments, str(bag.path), start_ns, end_ns, class_names)
    plan.segments.sort(key=lambda s: (s.start_ns, s.track_id))
    return plan


def assign_plan_splits(plans: list[BagPlan], config: BagConversionConfig) -> None:
    """Per take or per bag, stratified by class and seeded: ``extract``'s ``assign_splits``."""
    jobs, owners = [], []
    for plan in plans:
        if plan.error:
            continue
        plan.splits = ["train"] * len(plan.segments)
        if config.split_by == "bag":
            jobs.append(VideoJob(plan.path, plan.name, [Segment(plan.segments[0].label)]))
            owners.append((plan, None))
        else:
            for index, segment in enumerate(plan.segments):
                jobs.append(VideoJob(plan.path, f"{plan.name}#{index}", [Segment(segment.label)]))
                owners.append((plan, index))
    assign_splits(jobs, config.windows.val_fraction, config.windows.seed)
    for job, (plan, index) in zip(jobs, owners, strict=True):
        if index is None:
            plan.splits = [job.split] * len(plan.segments)
        else:
            plan.splits[index] = job.split


# ---------------------------------------------------------------- frames

def skeleton_frames(bag: Bag, topic: str, result: BagResult, progress: tqdm) -> list[PoseFrame]:
    frames, bad, first_error = [], 0, ""
    for message in bag.messages([topic]):
        try:
            frames.append(msg_to_pose_frame(bag.decode(message)))
        except (SkeletonMessageError, ValueError) as error:
            bad += 1
            first_error = first_error or str(error)
        progress.update()
    if bad:
        result.notes.append(f"{bad} malformed Skeleton message(s) skipped (first: {first_error})")
    return frames


def image_frames(bag: Bag, topic: str, estimator: PoseEstimator, result: BagResult, progress: tqdm,
                 segments: list[LabelSegment]) -> list[PoseFrame]:
    """The pose backend over the images inside a label segment (the others give no sample, so
    they are not estimated), in receive order, tracked; stamps from the image headers."""
    tracker = PoseTracker()
    frames = []
    compressed = bag.topics[topic].msgtype == COMPRESSED_TYPE
    for message in bag.messages([topic]):
        msg = bag.decode(message)
        stamp_ns = stamp_to_ns(msg.header.stamp)
        progress.update()
        if not any(segment.covers(stamp_ns) for segment in segments):
            continue
        try:
            image = compressed_image_to_rgb(msg) if compressed else raw_image_to_rgb(msg)
        except ImageConversionError as error:
            raise BagError(f"{bag.path}: topic {topic}: {error}") from None
        started = time.perf_counter()
        frame = estimator.estimate(image, stamp_ns=stamp_ns)
        result.pose_seconds += time.perf_counter() - started
        tracker.update(frame)
        frames.append(frame)
    return frames


# ---------------------------------------------------------------- windows

def _segment_tracks(run: Run, segment: LabelSegment, persons: int) -> list[dict[int, np.ndarray]]:
    """The track groups windows are cut from: the labelled performer alone, every performer on
    their own (one person per sample), or everyone together (several persons per sample)."""
    if segment.track_id != ALL_PEOPLE:
        return [{segment.track_id: run.tracks[segment.track_id]}] if segment.track_id in run.tracks else []
    if persons == 1:
        return [{track_id: sequence} for track_id, sequence in sorted(run.tracks.items())]
    return [run.tracks] if run.tracks else []


def cut_bag_windows(plan: BagPlan, runs: list[Run], config: ExtractConfig, result: BagResult) -> None:
    for segment, split in zip(plan.segments, plan.splits, strict=True):
        for run in runs:
            first = int(np.searchsorted(run.stamps, segment.start_ns, side="left"))
            last = len(run.stamps) if segment.end_ns is None else int(np.searchsorted(run.stamps, segment.end_ns,
                                                                                      side="left"))
            for tracks in _segment_tracks(run, segment, config.persons):
                for start, end, sample, track_id in cut_windows(tracks, first, last, config):
                    info = SampleInfo(label=-1, split=split, source=plan.name, start_frame=run.offset + start,
                                      end_frame=run.offset + end, person=track_id,
                                      image_size=run.image_sizes[start], num_frames=min(end - start, config.window))
                    result.windows.append((sample, info, segment.label))


def convert_bag(bag: Bag, plan: BagPlan, config: BagConversionConfig, target_layout: str,
                estimator_factory) -> BagResult:
    result = BagResult(plan.name, notes=list(plan.notes), topic=plan.frames_topic)
    started = time.perf_counter()
    total = bag.topics[plan.frames_topic].count
    with tqdm(total=total, desc=Path(plan.name).name, unit="frame", leave=False) as progress:
        if plan.from_images:
            frames = image_frames(bag, plan.frames_topic, estimator_factory(), result, progress, plan.segments)
        else:
            frames = skeleton_frames(bag, plan.frames_topic, result, progress)
    stats = SequenceStats()
    runs = build_runs(frames, target_layout, config.max_gap_s, stats)
    result.frames, result.frames_without_person = stats.frames, stats.frames_without_person
    result.notes += stats.notes
    cut_bag_windows(plan, runs, config.windows, result)
    if not result.windows:
        result.status = "failed"
        result.reason = (f"no window: {result.frames} frames ({result.frames_without_person} without a person) under "
                         f"{len(plan.segments)} label segment(s); a window needs the person in at least "
                         f"{config.windows.min_presence:.0%} of its frames (shorter segments are padded to "
                         f"--window only with --whole-clips)")
    result.seconds = time.perf_counter() - started
    return result


# ---------------------------------------------------------------- the whole conversion

@dataclass
class ConversionSummary:
    output: Path
    bags: dict[str, dict]
    class_names: list[str]
    windows_per_class: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: int = 0
    pose_seconds: float = 0.0
    total_seconds: float = 0.0
    frames: int = 0

    @property
    def failed(self) -> dict[str, str]:
        return {name: record["reason"] for name, record in self.bags.items() if record["status"] != "ok"}

    def lines(self) -> list[str]:
        ok = [r for r in self.bags.values() if r["status"] == "ok"]
        lines = [f"dataset: {self.output}",
                 f"bags: {len(self.bags)} ({len(ok)} ok, {len(self.failed)} failed, {self.skipped} done earlier)",
                 f"frames: {sum(r.get('frames', 0) for r in self.bags.values())}, without a person: "
                 f"{sum(r.get('frames_without_person', 0) for r in self.bags.values())}"]
        for split, counts in sorted(self.windows_per_class.items()):
            lines.append(f"{split} windows: " + ", ".join(f"{name} {counts.get(name, 0)}" for name in self.class_names))
        for name, record in sorted(self.bags.items()):
            lines += [f"  note {name}: {note}" for note in record.get("notes", [])]
        lines += [f"  FAILED {name}: {reason}" for name, reason in sorted(self.failed.items())]
        return lines


def _resume_state(output: Path, config: BagConversionConfig) -> dict[str, dict]:
    if not (output / "dataset.json").exists():
        return {}
    previous = read_header(output).extra.get("bag2dataset")
    if previous is None:
        return {}  # appending bags to a dataset made by another tool
    if previous.get("settings") != config.settings():
        raise BagError(f"{output} was converted with other settings ({previous.get('settings')}); use another output "
                       "folder or the same options")
    return dict(previous.get("bags", {}))


def _plan_all(paths: list[Path], config: BagConversionConfig, class_names: list[str] | None,
              done: dict[str, dict]) -> tuple[list[BagPlan], dict[str, Bag]]:
    csv_rows = read_segments_csv(config.csv) if config.csv is not None else []
    plans, bags = [], {}
    for path in paths:
        name = bag_name(path)
        if done.get(name, {}).get("status") == "ok":
            continue
        try:
            bag = open_bag(path)
        except BagError as error:
            plans.append(BagPlan(path, name, error=str(error)))
            continue
        try:
            plans.append(plan_bag(bag, config, csv_rows, class_names))
            bags[name] = bag
        except (BagError, LabelError) as error:
            plans.append(BagPlan(path, name, error=str(error), notes=list(bag.notes)))
            bag.close()
    return plans, bags


def _target_layout(config: BagConversionConfig, plans: list[BagPlan], bags: dict[str, Bag], existing: Path) -> str:
    if config.windows.layout:
        return config.windows.layout
    if (existing / "dataset.json").exists():
        return read_header(existing).layout
    for plan in plans:
        if not plan.error and not plan.from_images:
            bag = bags[plan.name]
            for message in bag.messages([plan.frames_topic]):
                return str(bag.decode(message).layout)
    return backend_layout(config.windows.backend, **config.windows.backend_options)


def bags_to_dataset(paths: list[str | Path], output: str | Path, config: BagConversionConfig,
                    class_names: list[str] | None = None, append: bool = False) -> ConversionSummary:
    """Converts every bag it can; failures are in the summary (``failed``), never raised per bag."""
    config.check()
    paths, output = [Path(p) for p in paths], Path(output)
    if not paths:
        raise BagError("no bag given")
    done = _resume_state(output, config)
    if (output / "dataset.json").exists() and not done and not append:
        raise BagError(f"{output} already holds a dataset; pass --append to add these bags to it, or choose another "
                       "output folder")
    plans, bags = _plan_all(paths, config, class_names, done)
    assign_plan_splits(plans, config)
    summary = ConversionSummary(output=output, bags=dict(done), class_names=list(class_names or []),
                                skipped=sum(1 for p in paths if done.get(bag_name(p), {}).get("status") == "ok"))
    for plan in plans:
        if plan.error:
            summary.bags[plan.name] = BagResult(plan.name, "failed", plan.error, plan.notes).record()
    usable = [plan for plan in plans if not plan.error]
    if not usable:
        _close(bags)
        _finish(summary, output)
        return summary
    labels = class_names or sorted({s.label for plan in usable for s in plan.segments})
    target_layout = _target_layout(config, usable, bags, output)
    writer = DatasetWriter(output, target_layout, labels, frames=config.windows.window,
                           persons=config.windows.persons, append=(output / "dataset.json").exists())
    estimator: list[PoseEstimator] = []

    def estimator_factory() -> PoseEstimator:
        """One estimator for every image bag, reset between bags (people tracked in one bag are not
        in the next); a new one needs no reset (MediaPipe's reset builds a new graph: 0.5 s)."""
        if not estimator:
            estimator.append(create_estimator(config.windows.backend, **config.windows.backend_options))
        elif hasattr(estimator[0], "reset"):
            estimator[0].reset()
        return estimator[0]

    started = time.perf_counter()
    try:
        for plan in tqdm(usable, desc="bags", unit="bag"):
            bag = bags.pop(plan.name)
            try:
                result = convert_bag(bag, plan, config, target_layout, estimator_factory)
            except (BagError, LabelError) as error:
                result = BagResult(plan.name, "failed", str(error), plan.notes)
            finally:
                bag.close()
            for sample, info, class_name in result.windows:
                info.label = writer.label_of(class_name)
                writer.add(sample, info)
            summary.bags[plan.name] = result.record()
            summary.pose_seconds += result.pose_seconds
            summary.frames += result.frames
            writer.header.extra["bag2dataset"] = {"settings": config.settings(), "bags": summary.bags}
            writer.commit()  # after every bag: an interruption loses at most the current one
    except BaseException:
        writer.abort()
        raise
    finally:
        _close(bags)
        if estimator:
            estimator[0].close()
    summary.total_seconds = time.perf_counter() - started
    _finish(summary, output)
    return summary


def _close(bags: dict[str, Bag]) -> None:
    for bag in bags.values():
        bag.close()


def _finish(summary: ConversionSummary, output: Path) -> None:
    if (output / "dataset.json").exists():
        dataset = SkeletonDataset(output)
        summary.class_names = dataset.class_names
        for split in ("train", "val"):
            summary.windows_per_class[split] = dataset.class_counts(split)


def summary_json(summary: ConversionSummary) -> dict:
    data = asdict(summary)
    data["output"] = str(summary.output)
    data["failed"] = summary.failed
    return data
