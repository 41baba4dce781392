"""A running action_node as a robot meets it (real processes, own ROS_DOMAIN_ID): parameters changed
over real SetParameters calls, people who leave, time jumps, /diagnostics."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_video
from dance_recognition.msg import ActionLabel, Skeleton, TrackedPeople
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from test_live_nodes import _skeleton, publish_in_step, spin_until
from visualization_msgs.msg import Marker, MarkerArray

from dance_recognition.data.synthetic import generate_move
from dance_recognition.media.video import VideoReader
from dance_recognition.models.streaming_classifier import StreamingClassifier
from dance_recognition.ros.graph import LiveArguments
from dance_recognition.ros.image_conversion import rgb_to_image
from dance_recognition.ros.nodes.action_node import default_checkpoint
from dance_recognition.ros.skeleton_conversions import stamp_to_ns

pytestmark = pytest.mark.slow
FRAME_NS = 33_333_333
# a short clip's first window must start among its first frames (see the test)
EARLY_FRAMES = 3




def _publish_move(probe, publisher, start_ns: int, frames: int = 64, seed: int = 0) -> None:
    for index, keypoints in enumerate(generate_move("wave", frames, np.random.default_rng(seed))):
        publisher.publish(_skeleton(start_ns + index * FRAME_NS, keypoints))
        spin_until(probe, lambda: False, 0.02)


def demo_stream_window(stride: int) -> int:
    """Frames per label of the packaged demo model as action_node streams it at ``stride``, from
    the checkpoint itself (its receptive field and strides), not a number copied from a log."""
    return StreamingClassifier(default_checkpoint(), every=stride, script=False).plan.window


def _connected(probe, processes, parameters: dict | None = None):
    action = processes.start("action_node", parameters)
    publisher = probe.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    assert spin_until(probe, lambda: publisher.get_subscription_count() > 0, 60, [action]), \
        processes.log("action_node")[-2000:]
    return action, publisher


def _set(probe, client: AsyncParameterClient, **values):
    """SetParameters (one result per parameter); the first refusal, else the first result."""
    future = client.set_parameters([Parameter(name, value=value) for name, value in values.items()])
    assert spin_until(probe, future.done, 60)
    results = future.result().results
    return next((result for result in results if not result.successful), results[0])


def test_parameters_change_at_run_time_over_set_parameters(processes, probe, tmp_path) -> None:
    labels: list[ActionLabel] = []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=200))
    action, publisher = _connected(probe, processes, {"stride": 8})
    client = AsyncParameterClient(probe, "action_node")
    assert client.wait_for_services(timeout_sec=30)

    assert _set(probe, client, top_k=1).successful
    refused = {"threshold": 1.5, "stats_period_s": 1.0, "min_frames": 100,
               "checkpoint": str(tmp_path / "missing.pt"), "device": "cuda:7"}
    reasons = {name: _set(probe, client, **{name: value}) for name, value in refused.items()}
    assert not any(result.successful for result in reasons.values())
    assert "read-only" in reasons["stats_period_s"].reason and "out of range" in reasons["threshold"].reason
    assert "larger than the window" in reasons["min_frames"].reason
    assert "cannot load the model" in reasons["checkpoint"].reason and "missing.pt" in reasons["checkpoint"].reason
    get = client.get_parameters(["threshold", "checkpoint", "top_k"])
    assert spin_until(probe, get.done, 30)
    assert get.result().values[0].double_value == 0.5  # the refused value was not stored
    assert get.result().values[2].integer_value == 1

    _publish_move(probe, publisher, 1_000_000_000)
    assert spin_until(probe, lambda: len(labels) >= 2, 60, [action]), processes.log("action_node")[-3000:]
    assert all(len(label.top_k_labels) == 1 for label in labels)  # the new top_k, no restart
    assert labels[-1].model_id.startswith("demo_moves@")

    swapped = tmp_path / "swapped_moves.pt"
    shutil.copy(default_checkpoint(), swapped)
    assert _set(probe, client, checkpoint=str(swapped)).successful
    before = len(labels)
    _publish_move(probe, publisher, 10_000_000_000, seed=1)
    assert spin_until(probe, lambda: len(labels) >= before + 2, 60, [action])
    assert labels[-1].model_id.startswith("swapped_moves@") and labels[-1].label == "wave"
    log = processes.log("action_node")
    assert "model swapped: swapped_moves@" in log and "refused parameter change" in log
    assert action.poll() is None


def test_a_person_who_leaves_is_published_without_another_skeleton(processes, probe) -> None:
    people: list[TrackedPeople] = []
    probe.create_subscription(TrackedPeople, "tracked_people", people.append, QoSProfile(depth=200))
    action, publisher = _connected(probe, processes, {"person_timeout_s": 0.5})
    _publish_move(probe, publisher, 5_000_000_000, frames=20)
    assert spin_until(probe, lambda: len(people) >= 10, 30, [action])
    sent = len(people)
    assert spin_until(probe, lambda: any(p.left_track_ids for p in people), 10, [action]), \
        processes.log("action_node")[-2000:]
    entered = [p for p in people if p.entered_track_ids]
    assert entered and list(entered[0].entered_track_ids) == [7] and list(entered[0].track_ids) == [7]
    left = next(p for p in people if p.left_track_ids)
    assert people.index(left) >= sent - 1  # after the last frame: the timer noticed it
    assert list(left.left_track_ids) == [7] and list(left.track_ids) == []
    last_frame_ns = 5_000_000_000 + 19 * FRAME_NS
    assert stamp_to_ns(left.header.stamp) - last_frame_ns > 0.5e9  # message time, past the time-out
    assert left.header.frame_id == "cam"
    assert all(list(p.track_ids) == [7] for p in people[: people.index(left)] if p.track_ids)


def test_a_backward_time_jump_starts_new_windows(processes, probe) -> None:
    labels: list[ActionLabel] = []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=200))
    # a long time-out: on a loaded machine this test's publishing may stall for seconds, which is
    # not what this test is about
    action, publisher = _connected(probe, processes, {"stride": 8, "person_timeout_s": 60.0})
    first_ns, looped_ns = 100_000_000_000, 2_000_000_000  # a bag played again from its start
    # in lock-step: the jump is measured from the last frame the node took, so none may be dropped
    publish_in_step(probe, publisher, generate_move("wave", 64, np.random.default_rng(0)), first_ns, [action])
    assert spin_until(probe, lambda: any(stamp_to_ns(x.header.stamp) >= first_ns for x in labels), 60, [action])
    publish_in_step(probe, publisher, generate_move("wave", 64, np.random.default_rng(1)), looped_ns, [action])
    after = lambda: [x for x in labels if stamp_to_ns(x.header.stamp) < first_ns]  # noqa: E731
    assert spin_until(probe, lambda: len(after()) >= 2, 60, [action]), processes.log("action_node")[-2000:]
    assert all(stamp_to_ns(x.window_start) >= looped_ns for x in after()), "old frames mixed into a new window"
    # the packaged demo model is unpadded, so mode auto streams it; a label covers the stream's window
    window = demo_stream_window(8)
    log = processes.log("action_node")
    assert "effective_mode='streaming'" in log and f"effective_window={window}," in log
    assert after()[0].num_frames == window  # a full window of the new frames only
    assert spin_until(probe, lambda: "jumped back by 100.100 s" in processes.log("action_node"), 10)


def test_simulated_time_drives_expiry_and_a_clock_reset_starts_new_windows(processes, probe) -> None:
    """use_sim_time with a /clock publisher (a simulator, or ``bag play --clock``): people expire
    on /clock's time, not the wall's, and /clock jumping back (a simulator reset) clears the
    windows even when the next Skeleton stamps have not jumped yet."""
    labels: list[ActionLabel] = []
    people: list[TrackedPeople] = []
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=200))
    probe.create_subscription(TrackedPeople, "tracked_people", people.append, QoSProfile(depth=400))
    clock = probe.create_publisher(Clock, "/clock", QoSProfile(depth=10))
    action, publisher = _connected(probe, processes, {"use_sim_time": True, "stride": 8, "person_timeout_s": 1.0})
    assert spin_until(probe, lambda: clock.get_subscription_count() > 0, 30, [action])
    sim_start_ns = 1_000_000_000_000

    def tick(ns: int) -> None:
        clock.publish(Clock(clock=Time(nanoseconds=ns).to_msg()))

    for index, keypoints in enumerate(generate_move("wave", 64, np.random.default_rng(0))):
        stamp_ns = sim_start_ns + index * FRAME_NS
        tick(stamp_ns)
        publisher.publish(_skeleton(stamp_ns, keypoints))
        spin_until(probe, lambda: False, 0.02)
    last_ns = sim_start_ns + 63 * FRAME_NS
    assert spin_until(probe, lambda: len(labels) >= 2, 60, [action]), processes.log("action_node")[-2000:]
    assert all(stamp_to_ns(p.header.stamp) >= sim_start_ns for p in people), "stamped with simulated time"
    # /clock stands still for 3 wall seconds, three times the time-out: in simulated time nobody left
    spin_until(probe, lambda: False, 3.0, [action])
    assert not any(p.left_track_ids for p in people), "expired on wall time although /clock stood still"
    tick(last_ns + 2_000_000_000)  # simulated time moves past the time-out
    assert spin_until(probe, lambda: any(p.left_track_ids for p in people), 20, [action]), \
        processes.log("action_node")[-2000:]

    # the person comes back, then the simulator resets its clock
    for index, keypoints in enumerate(generate_move("wave", 20, np.random.default_rng(1))):
        stamp_ns = last_ns + 3_000_000_000 + index * FRAME_NS
        tick(stamp_ns)
        publisher.publish(_skeleton(stamp_ns, keypoints))
        spin_until(probe, lambda: False, 0.02)
    tick(5_000_000_000)
    assert spin_until(probe, lambda: "the node's clock jumped by" in processes.log("action_node"), 20, [action]), \
        processes.log("action_node")[-2000:]
    assert action.poll() is None


def test_nodes_report_their_health_on_diagnostics(processes, probe) -> None:
    arrays: list[DiagnosticArray] = []
    probe.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, QoSProfile(depth=100))
    reaction = processes.start("reaction_node")
    action, publisher = _connected(probe, processes, {"stride": 8})
    assert spin_until(probe, lambda: probe.count_subscribers("actions") >= 1, 30, [action, reaction])
    _publish_move(probe, publisher, 1_000_000_000)

    def statuses(name: str) -> list:
        return [s for a in arrays for s in a.status if s.name == name]

    def value(status, key: str) -> str | None:
        return {v.key: v.value for v in status.values}.get(key)

    action_status = "/action_node: action recognition"
    assert spin_until(probe, lambda: any(value(s, "skeletons_received") == "64" for s in statuses(action_status)),
                      30, [action])
    values = {v.key: v.value for v in statuses(action_status)[-1].values}
    assert values["people"] == "1" and values["model_id"].startswith("demo_moves@")
    # the launcher's summary says it when no label came
    assert values["frames_for_a_label"] == str(demo_stream_window(8))
    assert {"rate_hz", "latency_p50_ms", "latency_p99_ms", "rejected_messages"} <= values.keys()
    assert statuses(action_status)[-1].hardware_id == "/action_node"
    reaction_status = "/reaction_node: reactions"
    assert spin_until(probe, lambda: any(int(value(s, "labels_total") or 0) > 0 for s in statuses(reaction_status)),
                      30, [reaction])
    assert int(value(statuses(reaction_status)[-1], "commands_total")) > 0  # waves: it spun


@pytest.fixture()
def video():
    return shared_video("ta_chi.mp4")


def test_pose_node_reliable_annotated_images_markers_and_run_time_toggles(video, processes, probe) -> None:
    """RViz subscribes reliably by default: image_annotated must reach it. Markers live in the image's
    (optical) frame, placed with camera_info's K."""
    annotated, markers, arrays = [], [], []
    reliable = QoSProfile(depth=5, reliability=QoSReliabilityPolicy.RELIABLE)
    probe.create_subscription(Image, "image_annotated", annotated.append, reliable)
    probe.create_subscription(MarkerArray, "pose_markers", markers.append, QoSProfile(depth=20))
    probe.create_subscription(DiagnosticArray, "/diagnostics", arrays.append, QoSProfile(depth=100))
    images = probe.create_publisher(Image, "image_raw", qos_profile_sensor_data)
    infos = probe.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
    pose = processes.start("pose_node")
    assert spin_until(probe, lambda: images.get_subscription_count() > 0, 60, [pose])
    client = AsyncParameterClient(probe, "pose_node")
    assert client.wait_for_services(timeout_sec=30)
    assert _set(probe, client, publish_markers=True, markers_distance_m=3.0).successful
    assert not _set(probe, client, tracking_max_distance=0.0).successful  # out of range
    assert "read-only" in _set(probe, client, backend="openpose").reason
    assert _set(probe, client, tracking_max_distance=0.8).successful

    with VideoReader(video) as reader:
        frames = [frame for _, frame in zip(range(150), reader, strict=False)]
    k = [300.0, 0.0, 170.0, 0.0, 300.0, 128.0, 0.0, 0.0, 1.0]

    def feed(count: int) -> None:
        for frame in frames[:count]:
            msg = rgb_to_image(frame)
            msg.header.frame_id = "camera_optical_frame"
            msg.header.stamp = probe.get_clock().now().to_msg()
            infos.publish(CameraInfo(header=msg.header, width=msg.width, height=msg.height, k=k))
            images.publish(msg)
            spin_until(probe, lambda: False, 0.066)

    feed(60)
    assert spin_until(probe, lambda: len(annotated) >= 3 and any(len(m.markers) > 1 for m in markers), 30, [pose]), \
        processes.log("pose_node")[-2000:]
    person = next(m for array in markers for m in array.markers if m.action == Marker.ADD)
    assert person.header.frame_id == "camera_optical_frame"  # a frame that exists, not <frame>_person_<id>
    assert person.pose.position.z == pytest.approx(3.0) and len(person.points) > 20
    assert abs(person.pose.position.x) < 3.0 * 170 / 300  # on a ray inside the image, through K

    assert _set(probe, client, publish_annotated=False).successful
    assert spin_until(probe, lambda: probe.count_publishers("image_annotated") == 0, 10, [pose])
    received = len(annotated)
    feed(20)
    assert len(annotated) == received
    status = [s for a in arrays for s in a.status if s.name == "/pose_node: pose estimation"]
    assert status and {"rate_hz", "dropped", "backend"} <= {v.key for v in status[-1].values}


def test_camera_info_from_a_calibration_file_scaled_to_the_published_size(video, processes, probe,
                                                                           tmp_path) -> None:
    calibration = tmp_path / "webcam.yaml"
    calibration.write_text(CALIBRATION_680x512)
    infos, images = [], []
    probe.create_subscription(CameraInfo, "camera_info", infos.append, qos_profile_sensor_data)
    probe.create_subscription(Image, "image_raw", images.append, qos_profile_sensor_data)
    camera = processes.start("camera_node", {"source": str(video), "loop": True, "playback": "fast",
                                             "fast_rate_hz": 60.0, "camera_info_url": f"file://{calibration}",
                                             "wait_for_subscriber": False})
    assert spin_until(probe, lambda: len(infos) >= 3 and images, 60, [camera]), processes.log("camera_node")[-2000:]
    info = infos[-1]
    assert (info.width, info.height) == (340, 256) and images[-1].header.frame_id == "camera_optical_frame"
    assert info.header.frame_id == "camera_optical_frame"
    assert list(info.k) == pytest.approx([300.0, 0, 170.0, 0, 301.0, 128.0, 0, 0, 1])  # halved with the image
    assert list(info.d) == pytest.approx([0.1, -0.2, 0.0, 0.0, 0.0]) and info.distortion_model == "plumb_bob"
    assert list(info.p)[:4] == pytest.approx([300.0, 0, 170.0, 0])


CALIBRATION_680x512 = """\
image_width: 680
image_height: 512
camera_name: webcam
camera_matrix:
  rows: 3
  cols: 3
  data: [600.0, 0.0, 340.0, 0.0, 602.0, 256.0, 0.0, 0.0, 1.0]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.1, -0.2, 0.0, 0.0, 0.0]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
projection_matrix:
  rows: 3
  cols: 4
  data: [600.0, 0.0, 340.0, 0.0, 0.0, 602.0, 256.0, 0.0, 0.0, 0.0, 1.0, 0.0]
"""


def test_a_short_clip_labels_from_its_first_window(video, processes, probe, tmp_path) -> None:
    """A 72-frame clip: the camera starts playing only once action_node listens, so the
    first frames' skeletons are in the first window (camera_node started first, the slowest last)."""
    from dance_recognition.media.video import VideoWriter

    clip = tmp_path / "short.mp4"
    with VideoReader(video) as reader, VideoWriter(clip, 30.0, (340, 256)) as writer:
        for _, frame in zip(range(72), reader, strict=False):
            writer.write(frame)
    params = tmp_path / "mine.yaml"
    # 6 frames/s: the pose node keeps up even on a loaded 2-core machine (the test is about the start)
    # stride 1: the stream labels as soon as its window is full (a coarser stride waits for its grid)
    params.write_text("/**/action_node:\n  ros__parameters:\n    stride: 1\n"
                      "/**/camera_node:\n  ros__parameters:\n    fps: 6.0\n")
    images, skeletons, labels = [], [], []
    probe.create_subscription(Image, "image_raw", lambda m: images.append(stamp_to_ns(m.header.stamp)),
                              qos_profile_sensor_data)
    probe.create_subscription(Skeleton, "skeletons", skeletons.append, QoSProfile(depth=100))
    probe.create_subscription(ActionLabel, "actions", labels.append, QoSProfile(depth=100))
    arguments = LiveArguments(input=str(clip), params_file=str(params))
    camera = processes.start("camera_node", arguments=arguments)
    nodes = [camera, processes.start("pose_node", arguments=arguments), processes.start("action_node",
                                                                                          arguments=arguments)]
    assert spin_until(probe, lambda: camera.poll() is not None, 120, nodes[1:])
    assert camera.returncode == 0, processes.log("camera_node")[-2000:]  # played once, then ended
    assert spin_until(probe, lambda: len(labels) >= 1, 30, nodes[1:]), (
        f"{len(images)} images, {len(skeletons)} skeletons, {sum(bool(s.people) for s in skeletons)} with people")
    logs = processes.log("pose_node")[-2000:], processes.log("camera_node")[-2000:]
    assert len(images) == 72, logs
    # Before the graph waited for itself, action_node subscribed 1-1.5 s into playback (frame 6-9
    # at this rate). pose_node works on the newest image only, so a first MediaPipe call slower
    # than a frame period may cost one early frame (counted as dropped): the clip's start, not
    # its very first frame, is what this pins.
    assert stamp_to_ns(skeletons[0].header.stamp) in images[:EARLY_FRAMES], logs
    assert images[1] - images[0] > 100e6, "paced from the first frame (6 fps), no burst after the wait"
    first_seen = next(stamp_to_ns(s.header.stamp) for s in skeletons if s.people)
    assert first_seen in images[:EARLY_FRAMES], "the person is in every frame of this clip"
    assert stamp_to_ns(labels[0].window_start) == first_seen, "the first frames never reached action_node"


def _sigint_barrage(process, seconds: float = 8.0) -> None:
    """SIGINT every 20 ms until the process ends, as a group signal from the system plus launch's
    own SIGINT would: later ones land in the clean-up."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)


def test_nodes_shut_down_quietly_under_repeated_sigint(processes, probe) -> None:
    images = probe.create_publisher(Image, "image_raw", qos_profile_sensor_data)
    pose, action = processes.start("pose_node"), processes.start("action_node")
    assert spin_until(probe, lambda: images.get_subscription_count() > 0 and probe.count_subscribers("skeletons"),
                      60, [pose, action])
    frame = rgb_to_image(np.zeros((256, 340, 3), np.uint8))
    for _ in range(20):  # the pose thread is busy when the signals come
        images.publish(frame)
        spin_until(probe, lambda: False, 0.02)
    for process in (pose, action):
        _sigint_barrage(process)
        assert process.wait(timeout=30) == 0
    wrapper = Path(sys.prefix) / "lib" / "dance_recognition" / "pose_node"
    if wrapper.is_file():  # the installed executable ros2 launch starts, signalled while importing
        early = subprocess.Popen([str(wrapper)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.3)
        _sigint_barrage(early)
        output, _ = early.communicate(timeout=30)
        assert early.returncode == 0 and "Traceback" not in output, output[-2000:]
    for name in ("pose_node", "action_node"):
        log = processes.log(name)
        for noise in ("Traceback", "KeyboardInterrupt", "Failed to publish", "context is invalid"):
            assert noise not in log, f"{name}: {log[-3000:]}"


def _live(*arguments: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dance_recognition.cli", "live", "--no-annotated-video", *arguments],
                          capture_output=True, text=True, timeout=timeout)


def test_launcher_ends_the_graph_when_a_required_node_cannot_start(video) -> None:
    """device:=cuda here (no CUDA): action_node cannot start. The launch file decides the same
    through graph.exit_outcome (see test_live_core)."""
    result = _live("--input", str(video), "--loop", "--device", "cuda", "--duration", "120")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "[action_node] cannot start:" in output and "torch sees no CUDA device" in output
    assert "[live] action_node died with exit code 2; stopping the graph" in output
    assert "Traceback" not in output

    kept = _live("--input", str(video), "--loop", "--device", "cuda", "--keep-going", "--duration", "12")
    output = kept.stdout + kept.stderr
    assert kept.returncode == 0, output[-3000:]
    assert "action_node died with exit code 2; the others run on (required:=false)" in output
