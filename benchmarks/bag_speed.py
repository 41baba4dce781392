"""Bag tools against their baselines, measured in one run.

    .venv/bin/python benchmarks/bag_speed.py [--repeats 3] [--seconds 10]

1. ``bag2dataset`` from a skeleton topic (generated moves, 2 performers, 9000 frames) in frames/s
   against reading and decoding the same bag alone: target within 2x.
2. ``bag2dataset`` from a raw image topic (every frame of ../shared/data/videos/ta_chi.mp4 stored
   as sensor_msgs/Image) against MediaPipe alone on the same frames (estimator created, then every
   frame estimated, as bag2dataset does): target overhead < 10%. Interleaved rounds, medians.
   Also the share of bag2dataset's own time spent outside the pose backend (its summary's
   ``pose_seconds``): measured inside one process, it does not move with the machine's load.
3. ``record`` of a 30 Hz 640x480 rgb8 best-effort image stream (as camera_node publishes it)
   for ``--seconds``, with ``--images raw`` and ``--images jpeg``: images lost (published but not
   in the bag; target 0) and the recorder's CPU (1.0 = one core).
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "test"))

from bag_samples import write_moves_bag  # noqa: E402

from dance_recognition.bags import BagWriter, open_bag  # noqa: E402
from dance_recognition.bags.convert import BagConversionConfig, bags_to_dataset  # noqa: E402
from dance_recognition.bags.typestore import writing_typestore  # noqa: E402
from dance_recognition.data.extract import ExtractConfig  # noqa: E402
from dance_recognition.media.images import raw_image_to_rgb  # noqa: E402
from dance_recognition.media.video import VideoReader  # noqa: E402
from dance_recognition.pose import create_estimator  # noqa: E402
from dance_recognition.skeleton.messages import msg_to_pose_frame  # noqa: E402

VIDEO = REPO.parent / "shared" / "data" / "videos" / "ta_chi.mp4"


def convert(bag: Path, folder: Path, name: str, pose_times: list[float] | None = None) -> float:
    config = BagConversionConfig(windows=ExtractConfig(val_fraction=0.0), label="wave")
    started = time.perf_counter()
    summary = bags_to_dataset([bag], folder / name, config)
    elapsed = time.perf_counter() - started
    if summary.failed:
        raise SystemExit(f"bag2dataset failed: {summary.failed}")
    if pose_times is not None:
        pose_times.append(summary.pose_seconds)
    return elapsed


def read_alone(bag: Path) -> float:
    started = time.perf_counter()
    with open_bag(bag) as opened:
        for message in opened.messages(["/skeletons"]):
            msg_to_pose_frame(opened.decode(message))
    return time.perf_counter() - started


def image_bag(path: Path) -> int:
    store = writing_typestore()
    image_type, header_type, time_type = (store.types[t] for t in (
        "sensor_msgs/msg/Image", "std_msgs/msg/Header", "builtin_interfaces/msg/Time"))
    frames = 0
    with VideoReader(VIDEO) as reader, BagWriter(path) as writer:
        writer.add_topic("/image_raw", "sensor_msgs/msg/Image")
        for index, image in enumerate(reader):
            stamp = 1_764_000_000_000_000_000 + round(index * 1e9 / reader.fps)
            msg = image_type(header=header_type(stamp=time_type(sec=stamp // 10**9, nanosec=stamp % 10**9),
                                                frame_id="camera"), height=image.shape[0], width=image.shape[1],
                             encoding="rgb8", is_bigendian=0, step=image.shape[1] * 3, data=image.reshape(-1))
            writer.write("/image_raw", stamp, bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image")))
            frames += 1
    return frames


def pose_alone(bag: Path) -> float:
    with open_bag(bag) as opened:
        images = [raw_image_to_rgb(opened.decode(m)) for m in opened.messages(["/image_raw"])]
    started = time.perf_counter()
    with create_estimator("mediapipe") as estimator:
        for image in images:
            estimator.estimate(image)
        return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def record_images(folder: Path, mode: str, seconds: float) -> tuple[int, int, float]:
    """(published, recorded, recorder CPU) for a 30 Hz 640x480 rgb8 best-effort stream."""
    import numpy as np
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from dance_recognition.ros.dds_profile import environment_with_profile
    from dance_recognition.ros.skeleton_conversions import ns_to_stamp

    os.environ.update(environment_with_profile())  # 640x480 images need the large shared-memory segment
    bag = folder / f"record_{mode}"
    recorder = subprocess.Popen([sys.executable, "-m", "dance_recognition.cli", "record", str(bag), "--topics",
                                 "none", "--images", mode], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                cwd=REPO)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node("image_source", context=context)
    publisher = node.create_publisher(Image, "image_raw", qos_profile_sensor_data)
    while publisher.get_subscription_count() == 0:
        time.sleep(0.05)
    time.sleep(1.0)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    msg = Image(height=480, width=640, encoding="rgb8", step=640 * 3, data=base.tobytes())
    cpu_before = cpu_seconds(recorder.pid)
    started = time.monotonic()
    published = 0
    while time.monotonic() - started < seconds:
        msg.header.stamp = ns_to_stamp(time.time_ns())
        publisher.publish(msg)
        published += 1
        time.sleep(max(0.0, started + published / 30.0 - time.monotonic()))
    time.sleep(1.0)
    cpu = (cpu_seconds(recorder.pid) - cpu_before) / (time.monotonic() - started)
    recorder.send_signal(signal.SIGINT)
    recorder.communicate(timeout=60)
    node.destroy_node()
    rclpy.try_shutdown(context=context)
    with open_bag(bag) as opened:
        recorded = sum(topic.count for topic in opened.topics.values())
    return published, recorded, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        skeletons = write_moves_bag(folder / "skeletons", [("wave", 1500), ("squat", 1500), ("march", 1500)] * 2,
                                    tracks=(0, 1), events=False, extra_topics=False)
        images = folder / "images"
        frames = image_bag(images)
        read_times, convert_times, pose_times, image_times, inner_pose = [], [], [], [], []
        for round_ in range(args.repeats):
            read_times.append(read_alone(skeletons.path))
            convert_times.append(convert(skeletons.path, folder, f"from_skeletons_{round_}"))
            pose_times.append(pose_alone(images))
            image_times.append(convert(images, folder, f"from_images_{round_}", inner_pose))
        read, conv = statistics.median(read_times), statistics.median(convert_times)
        pose, from_images = statistics.median(pose_times), statistics.median(image_times)
        print(f"skeleton bag: {skeletons.frames} frames x 2 performers, median of {args.repeats}")
        print(f"  read + decode alone: {skeletons.frames / read:.0f} frames/s")
        print(f"  bag2dataset:         {skeletons.frames / conv:.0f} frames/s  (ratio {conv / read:.2f}x, target < 2x)")
        print(f"image bag: {frames} raw frames of {VIDEO.name}, median of {args.repeats}")
        print(f"  MediaPipe alone:     {frames / pose:.1f} frames/s")
        print(f"  bag2dataset:         {frames / from_images:.1f} frames/s  (overhead "
              f"{(from_images / pose - 1) * 100:+.1f}%, target < 10%)")
        inside = statistics.median(t / p - 1 for t, p in zip(image_times, inner_pose, strict=True))
        print(f"  bag2dataset outside the pose backend: {inside * 100:+.1f}% of its pose time (same process)")
        for mode in ("raw", "jpeg"):
            published, recorded, cpu = record_images(folder, mode, args.seconds)
            print(f"record --images {mode}: 640x480 rgb8 at 30 Hz for {args.seconds:g} s: published {published}, "
                  f"recorded {recorded}, lost {published - recorded}; recorder CPU {cpu:.2f}")


if __name__ == "__main__":
    main()
