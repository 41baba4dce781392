"""Live graph: end-to-end latency, per-node CPU, and the pose node's ROS overhead.

    .venv/bin/python benchmarks/live_latency.py [VIDEO] [--action-only]

Default VIDEO: ../shared/data/videos/ta_chi.mp4 (300 frames). Three measurements, one run:
1. the pose backend alone (MediaPipe full, tracking mode) on the video's frames: frames/s;
2. camera_node (playback fast, at 1.25x the rate of (1)) -> pose_node: skeletons/s the pose node
   delivers when frames come faster than it can take them; ROS overhead = 1 - (2) / (1) (target
   under 10%);
3. the whole graph at the video's native 30 fps: camera stamp -> ActionLabel arrival latency
   (p50/p99, same machine clock) and each node's CPU use (share of one core, from /proc);
4. action_node alone (one thread), fed Skeleton messages of 1 and 3 people (real MediaPipe
   skeletons of ta_chi.mp4) at 30 fps, in ``mode`` window (stride 4) and streaming (stride 4 and
   1) on the same checkpoint (trained without temporal padding, random weights; the demo
   architecture and the paper network): CPU seconds of the node (from /proc) per frame it took
   x 30, which a starved node that drops frames does not distort, and the labels it published.
   ``--action-only`` runs just this part.
``--pose-only`` runs (1) and (2) only; (2) also reports the pose node's CPU seconds per skeleton
against the backend's per frame (a comparison less disturbed by other work on a shared machine
than throughput) and the people per frame (the overhead grows with people: one message part,
tracker entry and marker each).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.live.frame_source import FrameSource
from dance_recognition.pose import create_estimator
from dance_recognition.ros.dds_profile import environment_with_profile
from dance_recognition.ros.graph import LiveArguments, NodeSpec, command, live_graph

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def backend_alone(video: Path, passes: int = 2) -> dict:
    """The backend on the video's frames as camera_node sends them (640 px wide), played ``passes``
    times in a row as the looping camera does: frames/s, CPU seconds per frame (all of the process's
    threads: less sensitive than wall time to other work on a shared machine) and people per frame."""
    source = FrameSource(str(video), loop=False, max_width=640)
    frames = []
    while (image := source.read()) is not None:
        frames.append(image)
    with create_estimator("mediapipe") as estimator:
        estimator.estimate(frames[0])
        people = 0
        started, cpu = time.perf_counter(), time.process_time()
        for image in frames * passes:
            people += len(estimator.estimate(image).people)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    count = len(frames) * passes
    return {"frames_per_s": count / elapsed, "cpu_per_frame": cpu / count, "people": people / count}


def start(specs: list[NodeSpec], arguments: LiveArguments, extra_env: dict[str, str] | None = None
          ) -> list[subprocess.Popen]:
    env = {**environment_with_profile(), **(extra_env or {})}
    return [subprocess.Popen(command(spec, arguments), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for spec in specs]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=20)


def run_graph(video: Path, fast: bool, seconds: float, fast_rate_hz: float = 200.0) -> dict:
    import rclpy
    from dance_recognition.msg import ActionLabel, Skeleton
    from rclpy.qos import QoSProfile

    from dance_recognition.ros.skeleton_conversions import stamp_to_ns

    arguments = LiveArguments(input=str(video), loop="true", playback="fast" if fast else "native")
    specs = live_graph(arguments)
    if fast:
        specs = [s for s in specs if s.executable != "action_node"]
    for spec in specs:
        if spec.executable == "pose_node":
            spec.parameters["publish_annotated"] = False
        if spec.executable == "camera_node":
            spec.parameters["fast_rate_hz"] = fast_rate_hz
            if fast:  # no action_node in this measurement: start once the pose node is up
                spec.parameters["wait_for_publishers"] = ["skeletons"]
    rclpy.init()
    node = rclpy.create_node("live_benchmark")
    skeletons, latencies, people = [], [], []

    def on_skeleton(msg) -> None:
        skeletons.append(time.monotonic())
        people.append(len(msg.people))

    def on_action(msg) -> None:
        latencies.append((time.time_ns() - stamp_to_ns(msg.header.stamp)) / 1e6)

    node.create_subscription(Skeleton, "skeletons", on_skeleton, QoSProfile(depth=100))
    node.create_subscription(ActionLabel, "actions", on_action, QoSProfile(depth=100))
    processes = start(specs, arguments)
    try:
        deadline = time.monotonic() + 120
        while len(skeletons) < 30 and time.monotonic() < deadline:  # warm-up: models loaded, frames flowing
            rclpy.spin_once(node, timeout_sec=0.05)
        first_cpu = {s.name: cpu_seconds(p.pid) for s, p in zip(specs, processes, strict=True)}
        count_before, started = len(skeletons), time.monotonic()
        latencies.clear()
        while time.monotonic() - started < seconds:
            rclpy.spin_once(node, timeout_sec=0.05)
        elapsed = time.monotonic() - started
        cpu = {s.name: (cpu_seconds(p.pid) - first_cpu[s.name]) / elapsed
               for s, p in zip(specs, processes, strict=True)}
        count = len(skeletons) - count_before
        return {"skeletons_per_s": count / elapsed, "cpu": cpu, "latencies": latencies,
                "people": float(np.mean(people[count_before:])) if count else 0.0}
    finally:
        stop(processes)
        node.destroy_node()
        rclpy.try_shutdown()


ARCHITECTURES = {  # name: (channels, strides, window)
    "demo architecture (5 blocks), 64-frame window": ((32, 32, 64, 64, 128), (1, 1, 2, 1, 2), 64),
    "paper network (10 blocks), 157-frame window": ((64, 64, 64, 64, 128, 128, 128, 256, 256, 256),
                                                     (1, 1, 1, 1, 2, 1, 1, 2, 1, 1), 157),
}


def streamable_checkpoint(folder: Path, channels: tuple, strides: tuple, window: int) -> Path:
    """An ST-GCN without temporal padding (random weights: the cost does not depend on them)."""
    from dance_recognition.models.checkpoint import ModelCard, save_checkpoint
    from dance_recognition.models.stgcn import STGCN, STGCNConfig

    config = STGCNConfig(num_classes=5, channels=channels, strides=strides, temporal_padding=False)
    model = STGCN(config).eval()
    card = ModelCard(config, ["a", "b", "c", "d", "e"], normalization="body_centred", window=window, max_persons=1)
    return save_checkpoint(folder / f"streamable-{len(channels)}.pt", model, card)


def real_people(people: int) -> tuple[list[np.ndarray], tuple[int, int]]:
    """COCO-18 pixel keypoints of ``people`` persons from the real tai chi clip (MediaPipe, see
    streaming_speed.real_sequence): person i is the same dancer 150*i frames later, 40*i px aside."""
    from streaming_speed import real_sequence

    found = real_sequence(600)
    if found is None:
        raise SystemExit("../shared/data/videos/ta_chi.mp4 is absent: no real sequence to publish")
    sequence, size = found
    tracks = []
    for person in range(people):
        track = np.roll(sequence, -150 * person, axis=0).copy()
        track[..., 0] += 40.0 * person * (track[..., 2] > 0)
        tracks.append(track)
    return tracks, size


def action_node_cpu(checkpoint: Path, mode: str, stride: int, tracks: list[np.ndarray], size: tuple[int, int],
                    warm_up: int, seconds: float) -> dict:
    """CPU seconds action_node spends per second of input (1.0 = one core busy), fed the persons of
    ``tracks`` at 30 fps. The share is taken over the frames it handled, not over wall time: after
    ``warm_up`` frames (full windows, TorchScript optimised) the node's CPU time is read from
    /proc, ``seconds`` of frames are published at 30 Hz, and the CPU time is read again once the
    node took them all (it publishes TrackedPeople for each) or none came for 5 s. ``cpu_needed``
    = CPU per frame taken x 30: what the node costs, even when a loaded machine starves it and
    its input queue drops frames (then shown: taken of published)."""
    import rclpy
    from dance_recognition.msg import ActionLabel, Skeleton, TrackedPeople
    from rclpy.qos import QoSProfile

    from dance_recognition.ros.skeleton_conversions import pose_frame_to_msg, stamp_to_ns
    from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
    from dance_recognition.skeleton.pose import PersonPose, PoseFrame

    spec = NodeSpec("action_node", "action_node", {"checkpoint": str(checkpoint), "mode": mode, "stride": stride})
    rclpy.init()
    node = rclpy.create_node("action_cpu_benchmark")
    labels: list[float] = []
    handled: list[int] = []  # stamps of the frames the node took in (it publishes TrackedPeople for each)
    node.create_subscription(ActionLabel, "actions", lambda msg: labels.append(time.monotonic()),
                             QoSProfile(depth=100))
    node.create_subscription(TrackedPeople, "tracked_people", lambda msg: handled.append(stamp_to_ns(msg.header.stamp)),
                             QoSProfile(depth=100))
    publisher = node.create_publisher(Skeleton, "skeletons", QoSProfile(depth=30))
    processes = start([spec], LiveArguments(), {"OMP_NUM_THREADS": "1"})
    load_before = os.getloadavg()[0]

    def publish(frame: int) -> None:
        people = [PersonPose(keypoints=track[frame % len(track)], track_id=i) for i, track in enumerate(tracks)]
        publisher.publish(pose_frame_to_msg(PoseFrame(
            OPENPOSE_COCO_18.name, OPENPOSE_COCO_18.joint_names, *size, people,
            stamp_ns=1_000_000_000 + frame * 33_333_333, frame_id="cam")))

    def publish_at_30_hz(first: int, count: int) -> None:
        next_at = time.monotonic()
        for frame in range(first, first + count):
            publish(frame)
            next_at += 1 / 30
            while time.monotonic() < next_at:
                rclpy.spin_once(node, timeout_sec=max(0.0, next_at - time.monotonic()))

    def wait_for(received: list, expected: int) -> None:
        """Until ``expected`` messages are in, or none came for 5 s (the node dropped some)."""
        quiet_since, seen = time.monotonic(), len(received)
        while len(received) < expected and time.monotonic() - quiet_since < 5.0:
            rclpy.spin_once(node, timeout_sec=0.05)
            if len(received) != seen:
                quiet_since, seen = time.monotonic(), len(received)

    try:
        deadline = time.monotonic() + 120
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
        people, frames = len(tracks), round(seconds * 30) // 4 * 4
        publish_at_30_hz(0, warm_up)
        wait_for(handled, warm_up)  # the warm-up frames are through
        first_cpu, first_labels, first_handled = cpu_seconds(processes[0].pid), len(labels), len(handled)
        publish_at_30_hz(warm_up, frames)
        wait_for(handled, first_handled + frames)
        spent = cpu_seconds(processes[0].pid) - first_cpu
        took = len(handled) - first_handled
        return {"cpu_per_input_s": spent / (frames / 30), "cpu_needed": spent / max(took, 1) * 30, "frames": frames,
                "handled": took, "labels": len(labels) - first_labels, "due": people * (frames // stride),
                "load": (load_before, os.getloadavg()[0])}
    finally:
        stop(processes)
        node.destroy_node()
        rclpy.try_shutdown()


def action_node_section(seconds: float = 10.0) -> None:
    import tempfile

    tracks, size = real_people(3)
    print(f"action_node alone (OMP_NUM_THREADS=1), fed {seconds:g} s of real skeletons at 30 fps (MediaPipe on "
          "ta_chi.mp4, COCO-18; 3 people = the dancer 5 s and 10 s later, shifted); same checkpoint in both modes "
          "(trained without temporal padding). CPU = CPU seconds of the node per second of input (1.0 = one core):")
    runs = (("window", 4), ("streaming", 4), ("streaming", 1))
    with tempfile.TemporaryDirectory() as folder:
        for name, (channels, strides, window) in ARCHITECTURES.items():
            checkpoint = streamable_checkpoint(Path(folder), channels, strides, window)
            print(f"  {name}:")
            for people in (1, 3):
                results = {}
                for mode, stride in runs:
                    results[mode, stride] = r = action_node_cpu(checkpoint, mode, stride, tracks[:people], size,
                                                                window + 30, seconds)
                    behind = "" if r["handled"] >= r["frames"] else (
                        f"; the loaded machine starved it: it took {r['handled']} of {r['frames']} frames "
                        f"({r['cpu_per_input_s']:.3f} of a core), cost per frame taken x 30")
                    print(f"    {people} person(s), {mode:9} a label every {stride} frame(s): CPU "
                          f"{r['cpu_needed']:.3f}  ({r['labels']}/{r['due']} labels{behind}; load "
                          f"{r['load'][0]:.1f} -> {r['load'][1]:.1f})", flush=True)
                window_cpu = results["window", 4]["cpu_needed"]
                print(f"    {people} person(s): window / streaming CPU at stride 4: "
                      f"{window_cpu / results['streaming', 4]['cpu_needed']:.1f}x; streaming with a label "
                      f"every frame costs {results['streaming', 1]['cpu_needed'] / window_cpu:.2f}x window at "
                      "stride 4", flush=True)


def pose_overhead(video: Path, seconds: float = 30.0) -> None:
    """pose_node against the backend alone on the same frames: throughput and CPU per frame."""
    alone = backend_alone(video)
    # frames a little faster than the backend's rate, so the pose node is always busy, without a
    # camera decoding at hundreds of Hz taking CPU from it on a small machine
    fast = run_graph(video, fast=True, seconds=seconds, fast_rate_hz=1.25 * alone["frames_per_s"])
    node_cpu = fast["cpu"]["pose_node"] / fast["skeletons_per_s"] if fast["skeletons_per_s"] else float("nan")
    print(f"{'pose backend alone (MediaPipe full)':<44}{alone['frames_per_s']:>7.1f} frames/s, "
          f"{1000 * alone['cpu_per_frame']:.0f} ms CPU per frame, {alone['people']:.2f} people per frame")
    print(f"{'pose_node fed faster than it can go':<44}{fast['skeletons_per_s']:>7.1f} skeletons/s, "
          f"{1000 * node_cpu:.0f} ms CPU per skeleton, {fast['people']:.2f} people per skeleton")
    throughput = 1 - fast["skeletons_per_s"] / alone["frames_per_s"]
    print(f"ROS overhead (target < 10%): throughput {100 * throughput:+.1f}%, "
          f"CPU per frame {100 * (node_cpu / alone['cpu_per_frame'] - 1):+.1f}%; load average after: "
          f"{os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "ta_chi.mp4"
    arguments = [a for a in sys.argv[1:] if a not in ("--action-only", "--pose-only")]
    if "--action-only" in sys.argv[1:]:
        action_node_section()
        return
    video = Path(arguments[0]) if arguments else default
    print(f"video: {video}; load average before: {os.getloadavg()[0]:.1f}", flush=True)
    pose_overhead(video)
    if "--pose-only" in sys.argv[1:]:
        return
    live = run_graph(video, fast=False, seconds=20)
    latencies = np.array(live["latencies"])
    print(f"{'whole graph at 30 fps: skeletons':<44}{live['skeletons_per_s']:>7.1f} /s")
    if len(latencies):
        print(f"camera stamp -> ActionLabel latency: p50 {np.percentile(latencies, 50):.0f} ms, "
              f"p99 {np.percentile(latencies, 99):.0f} ms ({len(latencies)} labels)")
    print("CPU per node at 30 fps (1.0 = one core): " + ", ".join(f"{k} {v:.2f}" for k, v in live["cpu"].items()))
    action_node_section()


if __name__ == "__main__":
    main()
