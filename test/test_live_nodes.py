"""The live nodes as real processes (own ROS_DOMAIN_ID, see conftest), fed real video."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rclpy
from conftest import installed_cli, shared_video
from dance_recognition.msg import ActionLabel, Skeleton, TrackedPeople
from geometry_msgs.msg import TwistStamped
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import String

from dance_recognition.data.synthetic import generate_move
from dance_recognition.models.checkpoint import load_checkpoint
from dance_recognition.ros.graph import LiveArguments
from dance_recognition.ros.nodes.action_node import default_checkpoint
from dance_recognition.ros.skeleton_conversions import ns_to_stamp, pose_frame_to_msg, stamp_to_ns
from dance_recognition.skeleton.layouts import NTU_RGBD_25, OPENPOSE_COCO_18
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

pytestmark = pytest.mark.slow


@pytest.fixture()
def video() -> Path:
    return shared_video("ta_chi.mp4")


def spin_until(node, condition: Callable[[], bool], timeout_s: float, alive: list | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        for process in alive or []:
            assert process.poll() is None, f"a node exited early with code {process.returncode}"
        rclpy.spin_once(node, timeout_sec=0.05)
    return condition()


def test_video_through_camera_pose_and_action_nodes(video, processes, probe, tmp_path) -> None:
    params = tmp_path / "mine.yaml"  # names one parameter: everything else keeps the nodes' defaults
    # max_gap_s: the demo model streams (mode auto), and on this shared 2-core test machine pose_node can fall
    # seconds behind the camera; a stream restarts after a longer gap (tested in test_streaming), which would
    # leave this plumbing test without labels
    params.write_text("/**/action_node:\n  ros__parameters:\n    stride: 2\n    max_gap_s: 5.0\n")
    arguments = LiveArguments(input=str(video), params_file=str(params), loop="true")
    images, skeletons, labels = [], [], []
    probe.create_subscription(Image, "image_raw", lambda m: images.append(stamp_to_ns(m.header.stamp)),
                              qos_profile_sensor_data)
    probe.create_subscription(Skeleton, "skeletons", lambda m: skeletons.append(m), QoSProfile(depth=100))
    probe.create_subscription(ActionLabel, "actions", lambda m: labels.append(m), QoSProfile(depth=100))
    nodes = [processes.start(name, arguments=arguments) for name in ("action_node", "pose_node", "camera_node")]
    assert spin_until(probe, lambda: len(labels) >= 8, 120, nodes), processes.log("action_node")[-3000:]

    classes = load_checkpoint(default_checkpoint()).card.classes
    assert {label.label for label in labels} <= {*classes, ActionLabel.UNKNOWN_LABEL}
    skeleton_stamps = {stamp_to_ns(s.header.stamp) for s in skeletons}
    first_seen = min(skeleton_stamps)  # discovery may hide the first skeletons from this probe
    checked = [label for label in labels if stamp_to_ns(label.header.stamp) >= first_seen]
    assert len(checked) >= 4
    for label in checked:
        assert stamp_to_ns(label.header.stamp) in skeleton_stamps, "a label must name the frame it ends at"
        assert stamp_to_ns(label.window_start) <= stamp_to_ns(label.header.stamp)
        assert label.top_k_labels[0] in classes and label.model_id.startswith("demo_moves@")
    by_track: dict[int, list[int]] = {}
    for label in labels:
        by_track.setdefault(label.track_id, []).append(stamp_to_ns(label.header.stamp))
    assert all(stamps == sorted(stamps) and len(set(stamps)) == len(stamps) for stamps in by_track.values())
    published = set(images)
    matched = sum(stamp_to_ns(s.header.stamp) in published for s in skeletons)
    assert matched >= 0.9 * len(skeletons), "skeletons must carry the stamps of published images"
    assert skeletons[0].layout == "mediapipe_pose_33" and skeletons[0].header.frame_id == "camera_optical_frame"


def test_parameters_out_of_range_are_rejected(processes) -> None:
    for executable, parameter in (("action_node", "threshold:=1.5"), ("camera_node", "max_width:=-5"),
                                  ("pose_node", "tracking_max_distance:=0.0")):
        process = processes.start(executable, extra=["-p", parameter])
        assert process.wait(timeout=60) == 2
        log = processes.log(executable)
        assert "cannot start" in log and parameter.split(":=")[0] in log, log[-2000:]


def _skeleton(stamp_ns: int, keypoints: np.ndarray, track_id: int = 7) -> Skeleton:
    frame = PoseFrame(layout=OPENPOSE_COCO_18.name, joint_names=OPENPOSE_COCO_18.joint_names, image_width=640,
                      image_height=480, people=[PersonPose(keypoints=keypoints, track_id=track_id)], stamp_ns=stamp_ns,
                      frame_id="cam")
    return pose_frame_to_msg(frame)


def publish_in_step(probe, publisher, frames: np.ndarray, start_ns: int, alive: list,
                    frame_ns: int = 33_333_333) -> None:
    """Publishes each frame once action_node has taken the one before (its TrackedPeople carries that
    stamp). A free-running publisher overruns the node's queue on a loaded machine, and a stream
    (the demo model streams) only labels once it has every frame of its window."""
    seen: set[int] = set()
    subscription = probe.create_subscription(TrackedPeople, "tracked_people",
                                             lambda msg: seen.add(stamp_to_ns(msg.header.stamp)), QoSProfile(depth=200))
    try:
        assert spin_until(probe, lambda: subscription.get_publisher_count() > 0, 60, alive)
        for index, keypoints in enumerate(frames):
            stamp_ns = start_ns + index * frame_ns
            publisher.publish(_skeleton(stamp_ns, keypoints))
            assert spin_until(probe, lambda s=stamp_ns: s in seen, 30, alive), f"frame {index} not taken"
    finally:
        probe.destroy_subscription(subscription)


def test_bad_skeleton_messages_are_skipped_and_the_node_keeps_working(processes, probe) -> None:
    labels, reactions, twists = [], [], []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=100))
    probe.create_subscription(String, "reaction", reactions.append, QoSProfile(depth=100))
    probe.create_subscription(TwistStamped, "cmd_vel", twists.append, QoSProfile(depth=100))
    publisher = probe.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    # a long timeout: on a loaded machine the publisher can stall longer than the default 2 s
    action = processes.start("action_node", {"stride": 8, "person_timeout_s": 60.0})
    reaction = processes.start("reaction_node")
    assert spin_until(probe, lambda: publisher.get_subscription_count() > 0, 60, [action])
    malformed = _skeleton(1, np.zeros((18, 3)))
    malformed.people[0].x = malformed.people[0].x[:5]  # 5 x values for 18 joints
    wrong_layout = Skeleton(layout="ntu_rgbd_25", joint_names=list(NTU_RGBD_25.joint_names), image_width=10,
                            image_height=10)
    wrong_layout.header.stamp = ns_to_stamp(2)
    for bad, line in ((malformed, "skipping a malformed Skeleton message"),
                      (wrong_layout, "skipping a Skeleton message of layout ntu_rgbd_25")):
        deadline = time.monotonic() + 30  # until the node has read one (discovery may lose the first)
        while line not in processes.log("action_node") and time.monotonic() < deadline:
            publisher.publish(bad)
            spin_until(probe, lambda: False, 0.1, [action])
        assert line in processes.log("action_node")
    publish_in_step(probe, publisher, generate_move("wave", 64, np.random.default_rng(0)), 1_000_000_000, [action])
    assert spin_until(probe, lambda: len(labels) >= 3 and reactions, 60, [action, reaction]), \
        processes.log("action_node")[-3000:]
    assert action.poll() is None
    assert all(label.track_id == 7 for label in labels)
    assert labels[-1].label == "wave"  # the demo model was trained on such generated moves
    assert spin_until(probe, lambda: any(t.twist.angular.z == pytest.approx(0.8) for t in twists), 10, [reaction])
    assert twists[-1].header.frame_id == "base_link"  # stamped by default (Jazzy diff_drive_controller, Nav2)
    assert any("spin" in r.data for r in reactions)  # later ones may already say "stop" (labels ended)


def _junk_skeleton(stamp_ns: int, layout: str, num_joints: int) -> Skeleton:
    """A Skeleton whose joint count does not match the layout it declares."""
    person = PersonPose(keypoints=np.full((num_joints, 3), 0.5, np.float32), track_id=7)
    frame = PoseFrame(layout=layout, joint_names=tuple(f"joint_{i}" for i in range(num_joints)), image_width=640,
                      image_height=480, people=[person], stamp_ns=stamp_ns, frame_id="cam")
    return pose_frame_to_msg(frame)


def test_junk_skeletons_never_end_the_action_node(processes, probe) -> None:
    """Wrong joint counts for the declared layout used to end the node ("cannot start", exit 2)."""
    labels = []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=100))
    publisher = probe.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    action = processes.start("action_node", {"stride": 8, "min_frames": 8})
    assert spin_until(probe, lambda: publisher.get_subscription_count() > 0, 60, [action])
    junk = [("openpose_coco_18", 17), ("openpose_coco_18", 10_000), ("mediapipe_pose_33", 18),
            ("my_layout", 5), ("my_layout", 6)]
    stamp = 1_000_000_000
    for _ in range(12):  # counts alternate between messages of the same track
        for layout, count in junk:
            stamp += 33_333_333
            publisher.publish(_junk_skeleton(stamp, layout, count))
        spin_until(probe, lambda: False, 0.02, [action])
    publish_in_step(probe, publisher, generate_move("wave", 64, np.random.default_rng(0)), stamp + 33_333_333,
                    [action])
    assert spin_until(probe, lambda: len(labels) >= 2, 60, [action]), processes.log("action_node")[-3000:]
    log = processes.log("action_node")
    assert action.poll() is None and "cannot start" not in log
    assert "layout openpose_coco_18 has 18 joints but the message names 17" in log


def test_launcher_exits_non_zero_when_a_node_is_killed(video, tmp_path) -> None:
    launcher = subprocess.Popen([sys.executable, "-m", "dance_recognition.cli", "live", "--input", str(video), "--loop",
                                 "--no-annotated-video"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids, lines = {}, []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = launcher.stdout.readline()
            lines.append(line)
            if line.startswith("[live] started"):
                name, pid = line.split()[2], int(line.split("pid ")[1].rstrip(")\n"))
                pids[name] = pid
            if "person" in line and line.startswith("[live]"):
                break  # the graph works: labels arrive
        assert "pose_node" in pids, "".join(lines[-50:])
        os.kill(pids["pose_node"], signal.SIGKILL)
        output, _ = launcher.communicate(timeout=60)
        assert launcher.returncode == 1, output[-3000:]
        assert "pose_node died with exit code -9" in output
    finally:
        if launcher.poll() is None:
            launcher.kill()


def _process_alive(pid: int) -> bool:
    """Running (a zombie that nobody reaped yet counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _start_launcher(video: Path) -> tuple[subprocess.Popen, dict[str, int], list[str]]:
    """The INSTALLED ``dance-recognition live``, once its three nodes have started spinning."""
    launcher = subprocess.Popen([*installed_cli(), "live", "--input", str(video), "--loop", "--no-annotated-video"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(launcher.stdout.readline, "")), daemon=True).start()
    pids: dict[str, int] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and launcher.poll() is None:
        pids = {line.split()[2]: int(line.split("pid ")[1].rstrip(")\n")) for line in list(lines)
                if line.startswith("[live] started")}
        configured = sum("]: configuration:" in line for line in list(lines))
        if len(pids) == 3 and configured == 3:
            return launcher, pids, lines
        time.sleep(0.2)
    launcher.kill()
    raise AssertionError("the launcher did not start its nodes:\n" + "".join(lines[-50:]))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_no_node_outlives_the_launcher(video, stop_signal) -> None:
    """``timeout``, systemd and ``docker stop`` send SIGTERM; the OOM killer sends SIGKILL."""
    launcher, pids, lines = _start_launcher(video)
    try:
        launcher.send_signal(stop_signal)
        launcher.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_process_alive(pid) for pid in pids.values()):
            time.sleep(0.2)
        assert not [name for name, pid in pids.items() if _process_alive(pid)], "".join(lines[-30:])
        if stop_signal == signal.SIGTERM:
            assert launcher.returncode == 0, "".join(lines[-30:])
            assert not any("Traceback" in line for line in lines), "".join(lines)
    finally:
        launcher.kill()
        for pid in pids.values():
            if _process_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_camera_reconnects_when_the_video_file_appears_and_is_replaced(video, processes, probe, tmp_path) -> None:
    target = tmp_path / "camera.mp4"
    sizes = []
    probe.create_subscription(Image, "image_raw", lambda m: sizes.append((m.width, m.height)),
                              qos_profile_sensor_data)
    camera = processes.start("camera_node", {"source": str(target), "loop": True, "reconnect_initial_s": 0.1,
                                             "reconnect_max_s": 0.2, "playback": "fast", "fast_rate_hz": 300.0,
                                             "wait_for_subscriber": False})
    # the node is up and has tried the missing file (a loaded machine may take seconds to start it)
    assert spin_until(probe, lambda: "camera waiting" in processes.log("camera_node"), 60, [camera])
    assert sizes == []  # nothing to play yet
    shutil.copy(video, target)
    assert spin_until(probe, lambda: len(sizes) >= 20, 60, [camera])
    assert set(sizes) == {(340, 256)}
    from dance_recognition.media.video import VideoReader, VideoWriter

    smaller = tmp_path / "smaller.mp4"
    with VideoReader(video) as reader, VideoWriter(smaller, 30, (170, 128)) as writer:
        import cv2

        for index, image in enumerate(reader):
            writer.write(cv2.resize(image, (170, 128)))
            if index > 60:
                break
    os.replace(smaller, target)  # the "camera" is swapped while running
    assert spin_until(probe, lambda: (170, 128) in sizes, 60, [camera])
    log = processes.log("camera_node")
    assert "camera waiting" in log and "camera streaming" in log


def test_action_node_names_a_reference_checkpoints_classes_from_a_file(processes, probe, tmp_path) -> None:
    from reference_checkpoints import write_reference_checkpoint

    write_reference_checkpoint(tmp_path / "st_gcn.five.pt", classes=5)
    (tmp_path / "names.txt").write_text("salsa\ntango\nwaltz\nrumba\nsamba\n")
    (tmp_path / "empty.txt").write_text("\n")
    broken = processes.start("action_node", {"checkpoint": str(tmp_path / "st_gcn.five.pt"),
                                             "classes_file": str(tmp_path / "empty.txt")})
    assert broken.wait(timeout=60) == 2 and "holds no class names" in processes.log("action_node")
    labels = []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=100))
    publisher = probe.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    action = processes.start("action_node", {"checkpoint": str(tmp_path / "st_gcn.five.pt"), "window": 16,
                                             "stride": 4, "classes_file": str(tmp_path / "names.txt")})
    assert spin_until(probe, lambda: publisher.get_subscription_count() > 0, 60, [action])
    for index, keypoints in enumerate(generate_move("wave", 48, np.random.default_rng(1))):
        publisher.publish(_skeleton(1_000_000_000 + index * 33_333_333, keypoints))
        spin_until(probe, lambda: False, 0.02)
    assert spin_until(probe, lambda: len(labels) >= 2, 60, [action]), processes.log("action_node")[-3000:]
    assert set(labels[-1].top_k_labels) <= {"salsa", "tango", "waltz", "rumba", "samba"}
