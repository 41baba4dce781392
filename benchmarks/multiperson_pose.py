"""Multi-person MediaPipe (Tasks API) against the legacy single-person API, on real videos.

    nice .venv/bin/python benchmarks/multiperson_pose.py [--frames N] [--skip-coverage]
        [--skip-composites] [--skip-speed]

One run, sequential (the machine is small and shared):
1. per video (../shared/data/videos/*.mp4 and the demo video fetched at set-up): frames with 0, 1,
   2, 3+ people found by the package's ``mediapipe`` backend and the distinct track ids the tracker
   created (fewer is better), and frames with a person for the legacy ``mediapipe.solutions.pose``
   path (the baseline this backend replaced; it is run here directly, it is no longer in the package);
2. ta_chi.mp4: mean / median distance between the two paths' landmarks (joints both see), in units
   of the image size;
3. scenes composited from real frames (no real clip here has three people MediaPipe can see, nor
   partners standing close): three people side by side, and two people at decreasing distances;
4. frames/s for 1, 2 and 3 people in view, backend vs legacy on the same frames (640 px wide as the
   live graph sends them), with the ratio, plus the backend restricted to what the legacy path
   does (``num_poses=1``, which also turns fresh detections off). "found" = people per frame the
   backend reports there (the pose2sim clip's third person and, at 640 px, the demo's backlit man
   are mostly too small for MediaPipe's detector).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.pose import create_estimator
from dance_recognition.ros.graph import media_file
from dance_recognition.skeleton.tracking import PoseTracker

DATA = Path(os.environ.get("DANCE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def read_frames(path: Path, limit: int = 0, max_width: int = 0, start: int = 0) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    while not limit or len(frames) < limit:
        ok, bgr = capture.read()
        if not ok:
            break
        if max_width and bgr.shape[1] > max_width:
            bgr = cv2.resize(bgr, (max_width, round(bgr.shape[0] * max_width / bgr.shape[1])),
                             interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    return frames


class Legacy:
    """The legacy ``mediapipe.solutions.pose`` path (full model, tracking mode): one person."""

    def __init__(self) -> None:
        from mediapipe.python.solutions import pose

        self.pose = pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True)

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(33, 3) x, y pixels and visibility, or None."""
        result = self.pose.process(image)
        if result.pose_landmarks is None:
            return None
        height, width = image.shape[:2]
        return np.array([(lm.x * width, lm.y * height, lm.visibility) for lm in result.pose_landmarks.landmark])

    def close(self) -> None:
        self.pose.close()


def tracked(frames: list[np.ndarray]) -> tuple[Counter, set[int]]:
    """Frames with 0, 1, 2, 3+ people reported (backend + tracker) and the track ids created."""
    tracker = PoseTracker()
    counts, ids = Counter(), set()
    with create_estimator("mediapipe") as estimator:
        for index, image in enumerate(frames):
            frame = tracker.update(estimator.estimate(image, stamp_ns=index * 33_333_333))
            counts[min(len(frame.people), 3)] += 1
            ids |= {p.track_id for p in frame.people}
    return counts, ids


def coverage(name: str, frames: list[np.ndarray]) -> None:
    counts, ids = tracked(frames)
    legacy = Legacy()
    legacy_found = sum(legacy.landmarks(image) is not None for image in frames)
    legacy.close()
    with_person = len(frames) - counts[0]
    print(f"| {name} | {len(frames)} | {counts[0]} | {counts[1]} | {counts[2]} | {counts[3]} | {len(ids)} | "
          f"{with_person} | {legacy_found} |", flush=True)


def composites(count: int = 40) -> None:
    """Scenes no real clip here holds, composited from real frames (test/real_footage.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test"))  # the tests' compositing helpers
    from real_footage import partner_frames, three_people_frames

    scenes = {"three people side by side (lifter, tai chi, lifter mirrored)": three_people_frames(count)}
    for offset in (1.3, 1.0, 0.75, 0.5):
        scenes[f"two people, centres {offset} body widths apart"] = partner_frames(count, offset)
    print("| composited scene | frames | 0 people | 1 | 2 | 3+ | track ids |")
    print("|---|---|---|---|---|---|---|")
    for name, frames in scenes.items():
        counts, ids = tracked(frames)
        print(f"| {name} | {len(frames)} | {counts[0]} | {counts[1]} | {counts[2]} | {counts[3]} | {len(ids)} |",
              flush=True)


def agreement(frames: list[np.ndarray]) -> None:
    legacy = Legacy()
    size = max(frames[0].shape[:2])
    errors, found = [], 0
    with create_estimator("mediapipe") as estimator:
        for index, image in enumerate(frames):
            frame = estimator.estimate(image, stamp_ns=index * 33_333_333)
            reference = legacy.landmarks(image)
            found += bool(frame.people)
            if not frame.people or reference is None:
                continue
            keypoints = frame.people[0].keypoints
            both = (keypoints[:, 2] > 0.5) & (reference[:, 2] > 0.5)
            errors.extend(np.linalg.norm(keypoints[both, :2] - reference[both, :2], axis=1) / size)
    legacy.close()
    print(f"ta_chi: backend found the person in {found}/{len(frames)} frames; landmarks vs legacy: mean "
          f"{np.mean(errors):.4f}, median {np.median(errors):.4f}, p95 {np.percentile(errors, 95):.4f} of the image "
          "size (joints with visibility > 0.5 in both)", flush=True)


def frames_per_second(run, frames: list[np.ndarray], repeats: int = 2) -> float:
    run(frames[0])  # graph start
    best = 0.0
    for _ in range(repeats):  # best of N: the machine is shared
        started = time.perf_counter()
        for image in frames:
            run(image)
        best = max(best, len(frames) / (time.perf_counter() - started))
    return best


def speed(label: str, frames: list[np.ndarray]) -> None:
    results = {}
    with create_estimator("mediapipe") as estimator:
        found = np.mean([len(estimator.estimate(image).people) for image in frames[:10]])
        results["backend"] = frames_per_second(estimator.estimate, frames)
    with create_estimator("mediapipe", num_poses=1) as estimator:
        results["single"] = frames_per_second(estimator.estimate, frames)
    legacy = Legacy()
    results["legacy"] = frames_per_second(legacy.landmarks, frames)
    legacy.close()
    print(f"| {label} ({found:.1f} found) | {frames[0].shape[1]}x{frames[0].shape[0]} | {results['legacy']:.1f} | "
          f"{results['backend']:.1f} ({results['backend'] / results['legacy']:.2f}x) | "
          f"{results['single']:.1f} ({results['single'] / results['legacy']:.2f}x) |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60, help="frames per speed measurement")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-coverage", action="store_true")
    parser.add_argument("--skip-composites", action="store_true")
    args = parser.parse_args()
    if not (DATA / "videos" / "ta_chi.mp4").is_file():
        print(f"error: no real footage in {DATA / 'videos'}; set DANCE_SHARED_DATA to the shared data folder",
              file=sys.stderr)
        return 1
    videos = sorted((DATA / "videos").glob("*.mp4"))
    demo = media_file("demo.mp4")
    if demo is not None:
        videos.append(demo)
    if not args.skip_coverage:
        print("| video | frames | 0 people | 1 | 2 | 3+ | track ids | frames with a person | legacy: with a person |")
        print("|---|---|---|---|---|---|---|---|---|")
        for video in videos:
            coverage(video.name, read_frames(video))
        agreement(read_frames(DATA / "videos" / "ta_chi.mp4"))
    if not args.skip_composites:
        composites()
    if not args.skip_speed:
        print("| people in view | size | legacy frames/s | backend (ratio) | backend num_poses=1 (ratio) |")
        print("|---|---|---|---|---|")
        speed("1: ta_chi", read_frames(DATA / "videos" / "ta_chi.mp4", args.frames, 640))
        if demo is not None:
            speed("2: demo from frame 80", read_frames(demo, args.frames, 640, start=80))
        speed("3: pose2sim cam01", read_frames(DATA / "videos" / "people_pose2sim_cam01.mp4", args.frames, 640))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
