"""The live graph's ROS-free parts and edges: image conversion, windows, smoothing, frame source,
graph description and launch file."""
from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_video
from sensor_msgs.msg import Image

from dance_recognition.live.frame_source import BackOff, FrameSource
from dance_recognition.live.label_smoothing import LabelSmoother
from dance_recognition.live.person_windows import PersonWindows
from dance_recognition.live.presence import Presence
from dance_recognition.live.statistics import RateMonitor
from dance_recognition.ros.graph import (
    LaunchArgumentError,
    LiveArguments,
    Outcome,
    command,
    exit_outcome,
    launch_arguments,
    live_graph,
)
from dance_recognition.ros.image_conversion import ImageConversionError, image_to_rgb, rgb_to_image
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
from dance_recognition.skeleton.pose import PersonPose, PoseFrame

REPO = Path(__file__).resolve().parents[1]


def test_image_conversion_respects_row_padding_and_encodings() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    padded = np.zeros((5, 7 * 3 + 11), np.uint8)
    padded[:, : 7 * 3] = rgb[:, :, ::-1].reshape(5, -1)  # bgr8 rows with 11 bytes of padding
    msg = Image(height=5, width=7, encoding="bgr8", step=7 * 3 + 11, data=padded.tobytes())
    np.testing.assert_array_equal(image_to_rgb(msg), rgb)
    mono = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    rows = np.zeros((4, 8), np.uint8)
    rows[:, :6] = mono
    grey = image_to_rgb(Image(height=4, width=6, encoding="mono8", step=8, data=rows.tobytes()))
    assert grey.shape == (4, 6, 3) and (grey[..., 1] == mono).all()
    for encoding in ("rgb8", "bgr8"):
        np.testing.assert_array_equal(image_to_rgb(rgb_to_image(rgb, encoding=encoding)), rgb)
    with pytest.raises(ImageConversionError, match="unsupported image encoding '16UC1'"):
        image_to_rgb(Image(height=1, width=1, encoding="16UC1", step=2, data=b"\0\0"))
    with pytest.raises(ImageConversionError, match="do not hold the pixels"):
        image_to_rgb(Image(height=2, width=2, encoding="rgb8", step=6, data=b"\0" * 6))


def _frame(stamp_ns: int, track_ids: list[int]) -> PoseFrame:
    people = [PersonPose(keypoints=np.full((18, 3), 0.5), track_id=t) for t in track_ids]
    return PoseFrame(layout=OPENPOSE_COCO_18.name, joint_names=OPENPOSE_COCO_18.joint_names, image_width=64,
                     image_height=48, people=people, stamp_ns=stamp_ns)


def test_person_windows_stride_min_frames_and_timeout() -> None:
    windows = PersonWindows(window=6, min_frames=4, stride=2, timeout_s=1.0)
    ready_counts = []
    for index in range(10):  # person 0 in every frame, person 1 from frame 3 on
        windows.add(_frame(index * 100_000_000, [0] if index < 3 else [0, 1]))
        ready_counts.append(sorted(r.track_id for r in windows.ready()))
    assert ready_counts == [[], [], [], [0], [], [0], [1], [0], [1], [0]]
    windows.add(_frame(1_000_000_000, [0]))
    assert windows.ready() == []
    windows.add(_frame(1_100_000_000, [0]))
    (ready,) = windows.ready()
    assert ready.track_id == 0 and ready.sequence.shape == (6, 18, 3)  # capped at the window
    assert ready.first_stamp_ns == 600_000_000 and ready.last_stamp_ns == 1_100_000_000
    assert windows.expire(2_050_000_000) == [1]  # last seen at 0.9 s
    assert windows.expire(2_200_000_000) == [0]


def test_person_windows_reconfigure_keeps_the_newest_frames_and_clear_forgets_everyone() -> None:
    windows = PersonWindows(window=6, min_frames=6, stride=1, timeout_s=1.0)
    for index in range(6):
        windows.add(_frame(index * 100_000_000, [3]))
    windows.reconfigure(window=4, min_frames=2, stride=1, timeout_s=0.5)  # a run-time parameter change
    (ready,) = windows.ready()
    assert ready.sequence.shape[0] == 4 and ready.first_stamp_ns == 200_000_000
    assert windows.expire(1_050_000_000) == [3]  # the new time-out
    windows.add(_frame(2_000_000_000, [4, 5]))
    assert windows.clear() == [4, 5] and windows.people == {}
    with pytest.raises(ValueError, match="min_frames <= window"):
        windows.reconfigure(window=4, min_frames=5, stride=1, timeout_s=1.0)


def test_presence_reports_who_entered_and_who_left() -> None:
    presence = Presence()
    first = presence.update([2, 1])
    assert (first.track_ids, first.entered, first.left) == ([1, 2], [1, 2], [])
    second = presence.update({2: "window", 3: "window"})
    assert (second.track_ids, second.entered, second.left) == ([2, 3], [3], [1])
    assert presence.update([]).left == [2, 3]


def test_label_smoother_threshold_and_hysteresis() -> None:
    smoother = LabelSmoother(["a", "b"], alpha=1.0, threshold=0.6, hysteresis=0.2)
    assert smoother.update(0, [0.9, 0.1]).label == "a"
    assert smoother.update(0, [0.45, 0.55]).label == "unknown"  # stays "a" internally, but unsure
    decision = smoother.update(0, [0.35, 0.65])
    assert decision.label == "b" and decision.confidence == pytest.approx(0.65)
    smoothing = LabelSmoother(["a", "b"], alpha=0.5, threshold=0.0, hysteresis=0.0)
    smoothing.update(1, [1.0, 0.0])
    assert smoothing.update(1, [0.0, 1.0]).probabilities.tolist() == [0.5, 0.5]


@pytest.fixture()
def clip(tmp_path) -> Path:
    return shared_video("ta_chi.mp4")


def test_frame_source_waits_for_a_missing_file_and_picks_up_a_replacement(clip, tmp_path) -> None:
    states = []
    path = tmp_path / "input.mp4"
    source = FrameSource(str(path), loop=True, back_off=BackOff(0.0, 0.0), on_state=lambda s, d: states.append(s))
    assert source.read() is None and source.state == "waiting" and not source.finished
    shutil.copy(clip, path)
    frame = source.read()
    assert frame is not None and frame.shape == (256, 340, 3) and states == ["waiting", "streaming"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FrameSource(str(tmp_path / "nothing.mp4"), loop=False)
    once = FrameSource(str(clip), loop=False, max_width=170)
    frames = 0
    while (image := once.read()) is not None:
        frames += 1
        assert image.shape == (128, 170, 3)
    assert frames == 300 and once.finished and once.state == "finished"


def _undecodable_copy(clip: Path, target: Path) -> None:
    """The same container with its frame data zeroed: it opens, and decodes nothing."""
    data = bytearray(clip.read_bytes())
    box = data.find(b"mdat")
    size = int.from_bytes(data[box - 4:box], "big")
    data[box + 4:box - 4 + size] = bytes(size - 8)
    target.write_bytes(data)


def test_a_looping_video_replaced_by_an_undecodable_file_backs_off(clip, tmp_path) -> None:
    """It used to reopen recursively until RecursionError (about 1,000 attempts in one read)."""
    path = tmp_path / "input.mp4"
    shutil.copy(clip, path)
    states = []
    source = FrameSource(str(path), loop=True, back_off=BackOff(0.0, 0.0), on_state=lambda s, d: states.append(s))
    assert source.read() is not None
    _undecodable_copy(clip, tmp_path / "junk.mp4")
    os.replace(tmp_path / "junk.mp4", path)
    for _ in range(400):  # the rest of the clip is still open, then the junk
        source.read()
    assert source.state == "waiting" and not source.finished
    shutil.copy(clip, path)
    assert source.read() is not None and source.state == "streaming"


def test_graph_description_arguments_and_exit_outcomes(tmp_path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("/**/action_node:\n  ros__parameters:\n    stride: 2\n")
    arguments = LiveArguments(input="0", backend="openpose", model="m.pt", namespace="robot1", loop="True",
                              params_file=str(user), use_sim_time="1")
    specs = {spec.name: spec for spec in live_graph(arguments)}
    assert list(specs) == ["camera_node", "pose_node", "action_node"]
    camera = command(specs["camera_node"], arguments)
    assert camera[1:3] == ["-m", "dance_recognition.ros.nodes.camera_node"]
    assert "source:=\"0\"" in camera and "loop:=true" in camera and "__ns:=/robot1" in camera
    assert 'wait_for_publishers:=["skeletons", "actions"]' in camera  # a video starts once the whole graph is up
    # only the user's file, on top of the nodes' own defaults: it overrides only what it names
    assert [camera[i + 1] for i, a in enumerate(camera) if a == "--params-file"] == [str(user)]
    assert all("use_sim_time:=true" in command(spec, arguments) for spec in specs.values())
    assert "checkpoint:=\"m.pt\"" in command(specs["action_node"], arguments)
    assert len(live_graph(LiveArguments(reaction="true"))) == 4

    external = live_graph(LiveArguments(camera="false", image_topic="/usb_cam/image_raw"))
    assert [spec.name for spec in external] == ["pose_node", "action_node"]
    assert external[0].remappings == [("image_raw", "/usb_cam/image_raw"), ("camera_info", "/usb_cam/camera_info")]
    assert not any("use_sim_time" in spec.parameters for spec in external)

    recording = live_graph(LiveArguments(record="takes/t1", record_max_bag_size="1000000",
                                         record_max_bag_duration="30"))[-1]
    assert recording.name == "recorder_node" and recording.parameters["max_bag_size"] == 1_000_000
    assert recording.parameters["max_bag_duration_s"] == 30.0
    assert "max_bag_size" not in live_graph(LiveArguments(record="takes/t1"))[-1].parameters  # the node's default

    for bad, message in ((LiveArguments(reaction="yes"), "reaction:='yes' is not a boolean"),
                         (LiveArguments(record="b", record_max_bag_duration="soon"), "is not a number of 0 or more"),
                         (LiveArguments(backend="openpse"), "backend:='openpse' is not one of mediapipe, openpose"),
                         (LiveArguments(playback="slow"), "is not one of native, fast"),
                         (LiveArguments(params_file=str(tmp_path / "none.yaml")), "does not exist")):
        with pytest.raises(LaunchArgumentError, match=message):
            live_graph(bad)

    # ROS itself reads any of these without a word and applies nothing
    for text, message in (("threshold: 0.3\n", "threshold has no ros__parameters"),
                          ("/**/action_node:\n  threshold: 0.3\n", "/\\*\\*/action_node has no ros__parameters"),
                          ("/**:\n  ros__parameters: 3\n", "ros__parameters is not a mapping"),
                          ("just some notes\n", "the file holds str, not node names"),
                          ("a: [1, 2\n", "is not readable YAML")):
        notes = tmp_path / "notes.yaml"
        notes.write_text(text)
        with pytest.raises(LaunchArgumentError, match=message):
            live_graph(LiveArguments(params_file=str(notes)))
    nested = tmp_path / "nested.yaml"
    nested.write_text("robot1:\n  action_node:\n    ros__parameters: {threshold: 0.3}\n")
    assert live_graph(LiveArguments(params_file=str(nested)))

    camera_spec, pose_spec = specs["camera_node"], specs["pose_node"]
    assert exit_outcome(camera_spec, 0, arguments)[0] is Outcome.DRAIN
    assert exit_outcome(camera_spec, 0, LiveArguments(end_with_input="false"))[0] is Outcome.CONTINUE
    outcome, line = exit_outcome(pose_spec, 2, arguments)
    assert outcome is Outcome.FAIL and line == "pose_node died with exit code 2; stopping the graph"
    assert exit_outcome(pose_spec, 2, LiveArguments(required="0"))[0] is Outcome.CONTINUE
    assert exit_outcome(pose_spec, 0, arguments)[0] is Outcome.FAIL  # a node must not end on its own


def test_launch_file_declares_the_graph_s_arguments() -> None:
    """launch/launch_ros are not installable here: the launch file is checked by reading it (its
    behaviour, through the same graph functions, by the launcher's tests)."""
    tree = ast.parse((REPO / "launch" / "live.launch.py").read_text())
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert {"live_graph", "launch_arguments", "exit_outcome", "params_files", "LiveArguments", "GroupAction",
            "OnProcessExit", "Shutdown", "TimerAction", "DeclareLaunchArgument"} <= called
    group = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and isinstance(node.func, ast.Name) and node.func.id == "GroupAction")
    keywords = {k.arg: k.value for k in group.keywords}
    assert isinstance(keywords["scoped"], ast.Constant) and keywords["scoped"].value is True
    inside = {n.func.id for n in ast.walk(keywords["actions"])
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert "SetEnvironmentVariable" in inside, "the DDS profile must be set inside the scoped group"
    declared = {spec.name for spec in launch_arguments()}
    assert declared == set(LiveArguments.__dataclass_fields__)
    assert {s.name: s.choices for s in launch_arguments()}["backend"] == ["", "mediapipe", "openpose"]


class FakeWebcam:
    """A FAKE webcam (there is none on these machines) standing in for cv2.VideoCapture: it
    delivers ``frames`` frames per connection, then reads fail as when the cable is pulled; the
    next ``unplugged`` open attempts fail before it is back."""

    opens = 0
    unplugged = 0

    def __init__(self, target, frames: int = 3) -> None:
        FakeWebcam.opens += 1
        self.left = frames
        self.connected = FakeWebcam.unplugged == 0
        if not self.connected:
            FakeWebcam.unplugged -= 1

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.connected

    def get(self, prop: int) -> float:
        return 30.0

    def read(self):
        if not self.connected or self.left == 0:
            FakeWebcam.unplugged = 2  # pulled: the next two opens fail
            return False, None
        self.left -= 1
        return True, np.full((48, 64, 3), 100, np.uint8)

    def release(self) -> None:
        self.connected = False


def test_webcam_disconnect_is_reopened_with_back_off(monkeypatch) -> None:
    import dance_recognition.live.frame_source as frame_source

    monkeypatch.setattr(frame_source.cv2, "VideoCapture", FakeWebcam)
    FakeWebcam.opens, FakeWebcam.unplugged = 0, 0
    states = []
    source = FrameSource("0", back_off=BackOff(0.0, 0.0), on_state=lambda state, detail: states.append(state))
    frames = [source.read() for _ in range(12)]
    delivered = [f for f in frames if f is not None]
    assert len(delivered) >= 6 and delivered[0].shape == (48, 64, 3)
    assert states[:3] == ["streaming", "waiting", "streaming"]  # reported once per change, not per frame
    assert not source.finished and FakeWebcam.opens >= 4


def test_camera_calibration_files_urls_and_scaling(tmp_path) -> None:
    from test_node_runtime import CALIBRATION_680x512

    from dance_recognition.live.camera_model import CalibrationError, Intrinsics, load_calibration

    path = tmp_path / "cam.yaml"
    path.write_text(CALIBRATION_680x512)
    for url in (str(path), f"file://{path}"):
        calibration = load_calibration(url)
        assert (calibration.width, calibration.height, calibration.camera_name) == (680, 512, "webcam")
    half = calibration.scaled(340, 256)
    assert half.k == pytest.approx((300.0, 0.0, 170.0, 0.0, 301.0, 128.0, 0.0, 0.0, 1.0))
    assert half.p[:4] == pytest.approx((300.0, 0.0, 170.0, 0.0)) and half.d == calibration.d
    with pytest.raises(CalibrationError, match="another aspect ratio"):
        calibration.scaled(640, 360)
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(f"file://{tmp_path}/missing.yaml")
    with pytest.raises(CalibrationError, match="package 'no_such_package' not found"):
        load_calibration("package://no_such_package/calibration/cam.yaml")
    with pytest.raises(CalibrationError, match="only file://, package://"):
        load_calibration("http://example.invalid/cam.yaml")
    (tmp_path / "other.yaml").write_text("image_width: 10\nimage_height: 10\ncamera_matrix: {data: [1, 2]}\n")
    with pytest.raises(CalibrationError, match=r"camera_matrix\.data has 2 numbers, expected 9"):
        load_calibration(str(tmp_path / "other.yaml"))
    assert Intrinsics.from_k([0.0] * 9) is None  # CameraInfo's "uncalibrated"
    centre = Intrinsics.assumed(640, 480).point_at(320, 240, 2.0)
    assert centre == pytest.approx((0.0, 0.0, 2.0))
    assert Intrinsics.from_k(half.k).point_at(470, 128, 2.0)[0] == pytest.approx(2.0)


def _launch_file(monkeypatch):
    import importlib.util

    import fake_launch

    fake_launch.install(monkeypatch)
    spec = importlib.util.spec_from_file_location("live_launch", REPO / "launch" / "live.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, fake_launch


def test_launch_file_builds_the_graph_and_ends_it_like_the_launcher(monkeypatch) -> None:
    """Runs launch/live.launch.py's own functions on a FAKE launch API (see fake_launch.py)."""
    module, fake = _launch_file(monkeypatch)
    description = module.generate_launch_description()
    entities = description.args[0]
    declared = {e.name: e for e in entities if isinstance(e, fake.DeclareLaunchArgument)}
    assert declared["backend"].choices == ["", "mediapipe", "openpose"] and declared["required"].default_value == "true"
    (group,) = [e for e in entities if type(e).__name__ == "GroupAction"]
    assert group.kwargs["scoped"] is True  # the DDS profile never leaks into an including launch file
    set_env, opaque = group.kwargs["actions"]
    assert type(set_env).__name__ == "SetEnvironmentVariable" and set_env.args[0] == "FASTDDS_DEFAULT_PROFILES_FILE"

    values = {name: spec.default_value for name, spec in declared.items() if isinstance(spec.default_value, str)}
    context = fake.Context({**values, "camera": "False", "image_topic": "/usb_cam/image_raw", "use_sim_time": "1",
                            "namespace": "robot1"})
    actions = opaque.kwargs["function"](context)
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    assert [n.kwargs["executable"] for n in nodes] == ["pose_node", "action_node"]
    assert all(n.kwargs["parameters"][-1]["use_sim_time"] is True and n.kwargs["namespace"] == "robot1"
               for n in nodes)
    assert ("image_raw", "/usb_cam/image_raw") in nodes[0].kwargs["remappings"]

    context = fake.Context(values)
    actions = opaque.kwargs["function"](context)
    handlers = {a.args[0].kwargs["target_action"].kwargs["executable"]: a.args[0].kwargs["on_exit"]
                for a in actions if type(a).__name__ == "RegisterEventHandler"}
    with pytest.raises(module.GraphStopped, match="pose_node died with exit code 2; stopping the graph"):
        handlers["pose_node"](fake.ProcessExited(2), context)  # launch turns this into exit code 1
    (timer,) = handlers["camera_node"](fake.ProcessExited(0), context)
    assert timer.kwargs["period"] == 3.0 and type(timer.kwargs["actions"][0]).__name__ == "Shutdown"
    assert handlers["pose_node"](fake.ProcessExited(-2), fake.Context(values, is_shutdown=True)) is None
    with pytest.raises(LaunchArgumentError, match="reaction:='yes' is not a boolean"):
        opaque.kwargs["function"](fake.Context({**values, "reaction": "yes"}))


def test_rate_summary_names_latency_only_when_measured() -> None:
    camera, action = RateMonitor(), RateMonitor()
    for _ in range(3):
        camera.record()
        action.record(12.0)
    assert "nan" not in camera.summary("published") and "latency" not in camera.summary("published")
    assert "latency p50 12.0 ms p99 12.0 ms" in action.summary("action labels")
