"""`extract` throughput against the pose backend alone, on the same frames, in the same run.

    .venv/bin/python benchmarks/extract_speed.py [VIDEO] [--repeats 3]

Default video: ../shared/data/videos/ta_chi.mp4. Round by round (interleaved, so load on a shared
machine hits both alike) it times (a) decoding every frame and running MediaPipe on it with a
fresh estimator, and (b) `extract` of the same video into a fresh dataset (decoding, pose,
tracking, layout handling, windowing and the atomic dataset write). The target is an extraction
overhead under 10% of the pose time.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.data.extract import ExtractConfig, extract
from dance_recognition.media.video import VideoReader
from dance_recognition.pose import create_estimator


def pose_alone(video: Path) -> tuple[float, int]:
    with VideoReader(video) as reader, create_estimator("mediapipe") as estimator:
        started = time.perf_counter()
        frames = sum(1 for image in reader if estimator.estimate(image) is not None)
        return time.perf_counter() - started, frames


def extraction(video: Path) -> float:
    with tempfile.TemporaryDirectory() as folder:
        videos = Path(folder) / "videos" / "move"
        videos.mkdir(parents=True)
        (videos / video.name).symlink_to(video.resolve())
        started = time.perf_counter()
        summary = extract(videos.parent, Path(folder) / "dataset", ExtractConfig(val_fraction=0))
        elapsed = time.perf_counter() - started
        if summary.failed:
            raise SystemExit(f"extract failed: {summary.failed}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "ta_chi.mp4"
    parser.add_argument("video", type=Path, nargs="?", default=default)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    pose_times, extract_times = [], []
    frames = 0
    for _ in range(args.repeats):
        elapsed, frames = pose_alone(args.video)
        pose_times.append(elapsed)
        extract_times.append(extraction(args.video))
    pose, total = statistics.median(pose_times), statistics.median(extract_times)
    print(f"video: {args.video} ({frames} frames), median of {args.repeats}")
    print(f"{'':<28}{'seconds':>9}{'frames/s':>10}")
    print(f"{'pose backend alone':<28}{pose:>9.2f}{frames / pose:>10.1f}")
    print(f"{'extract (whole pipeline)':<28}{total:>9.2f}{frames / total:>10.1f}")
    print(f"extraction overhead: {100 * (total - pose) / pose:+.1f}% of pose time (target < 10%)")


if __name__ == "__main__":
    main()
