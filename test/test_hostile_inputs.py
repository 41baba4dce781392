"""Inputs a hostile user gave the rosbag, label and predict tools (QA findings H1-H12 of
/work/notes/hostile-findings.md): each one used to end in a traceback, a false message, a
left-over file or a silent wrong result. Real bags (../shared/data/rosbag2, real `ros2 bag
record` output), real CLI processes, a real recorder node."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, shared_data_dir

from dance_recognition.bags import open_bag
from dance_recognition.bags.errors import LabelError
from dance_recognition.bags.labels import read_segments_csv

DEMO_MODEL = REPO / "dance_recognition" / "resources" / "demo_moves.pt"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dance_recognition.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


@pytest.fixture()
def talker_copy(tmp_path) -> Path:
    data = shared_data_dir()
    if data is None or not (data / "rosbag2" / "talker_mcap").is_dir():
        pytest.skip("../shared/data/rosbag2 (real `ros2 bag record` bags) is absent")
    bag = tmp_path / "talker"
    shutil.copytree(data / "rosbag2" / "talker_mcap", bag)
    for file in bag.iterdir():
        file.chmod(0o644)
    return bag


def test_metadata_with_a_non_list_of_files_is_recovered_not_a_traceback(talker_copy):
    metadata = talker_copy / "metadata.yaml"
    metadata.write_text("rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: mcap\n"
                        "  relative_file_paths: 5\n  compression_mode: 7\n")
    result = cli("bag", "info", str(talker_copy))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "relative_file_paths is not a list" in result.stdout
    assert "10 msgs" in result.stdout


def test_metadata_naming_a_renamed_file_reads_the_folders_file(talker_copy):
    (talker_copy / "talker.mcap").rename(talker_copy / "take_renamed.mcap")
    with open_bag(talker_copy) as bag:
        assert bag.topics["/topic"].count == 10
        assert any("take_renamed.mcap" in note and "talker.mcap" in note for note in bag.notes), bag.notes


def test_segments_csv_non_finite_times_are_one_line(tmp_path):
    csv = tmp_path / "segments.csv"
    for row in ("take1,nan,3,wave", "take1,0,inf,wave", "take1,-inf,2,wave"):
        csv.write_text(f"bag,start,end,label\n{row}\n")
        with pytest.raises(LabelError, match=r"segments.csv:2: start/end must be finite seconds"):
            read_segments_csv(csv)


def test_segments_csv_from_a_spreadsheet_bom_and_spaces(tmp_path):
    csv = tmp_path / "segments.csv"
    csv.write_bytes("\ufeffbag, start, end, label, track\ntake1, 0.5, 2, wave, 3\ntake1, 2, , squat,\n"
                    .encode("utf-8"))
    rows = read_segments_csv(csv)
    assert [(r.bag, r.start_s, r.end_s, r.label, r.track_id) for r in rows] == [
        ("take1", 0.5, 2.0, "wave", 3), ("take1", 2.0, None, "squat", -1)]


def test_bag2dataset_cli_nan_time_is_one_line(tmp_path, talker_copy):
    csv = tmp_path / "segments.csv"
    csv.write_text("bag,start,end,label\ntalker,nan,3,wave\n")
    result = cli("bag2dataset", str(talker_copy), str(tmp_path / "ds"), "--csv", str(csv))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"dance-recognition bag2dataset: error: {csv}:2: start/end must be finite seconds, not 'nan', '3'"]


@pytest.mark.slow
def test_recorder_that_cannot_start_leaves_no_bag(tmp_path):
    bag = tmp_path / "take"
    result = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "record", str(bag), "--topics",
                             "bad topic!", "--duration", "1"], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "topic name 'bad topic!' is invalid" in result.stderr
    assert not bag.exists(), list(bag.iterdir())


@pytest.mark.slow
def test_recorder_summary_rate_is_over_the_messages_not_the_wait(tmp_path):
    """The summary's rate matches `bag info` (messages over the bag's span), also when the
    publisher appeared a while after the recorder started."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from dance_recognition.ros.nodes.recorder_node import RecorderNode

    rclpy.init(args=["recorder_node", "--ros-args", "-p", f"bag:={tmp_path / 'take'}", "-p",
                     "topics:=[hostile_chatter]", "-p", "discovery_period_s:=0.05"])
    try:
        recorder = RecorderNode()
        talker = rclpy.create_node("hostile_talker")
        executor = SingleThreadedExecutor()
        executor.add_node(recorder)
        executor.add_node(talker)
        wait_until = time.monotonic() + 2.0  # the recorder waits for its publisher
        while time.monotonic() < wait_until:
            executor.spin_once(timeout_sec=0.05)
        publisher = talker.create_publisher(String, "hostile_chatter", 100)
        deadline = time.monotonic() + 30
        while publisher.get_subscription_count() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for index in range(40):
            publisher.publish(String(data=str(index)))
            end = time.monotonic() + 0.02
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.005)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        recorder.writer.close()
        line = next(x for x in recorder.summary_lines() if "/hostile_chatter" in x)
        stats = recorder.writer.stats["/hostile_chatter"]
        talker.destroy_node()
        recorder.destroy_node()
    finally:
        rclpy.try_shutdown()
    rate = float(line.split(" Hz")[0].rsplit(" ", 1)[1])
    expected = stats.messages / ((stats.last_ns - stats.first_ns) / 1e9)
    assert stats.messages == 40
    assert rate == pytest.approx(expected, rel=0.05), line


def test_predict_refuses_nan_positions_of_detected_joints(tmp_path):
    keypoints = np.random.default_rng(0).uniform(0.1, 1.0, (60, 18, 3))
    keypoints[..., 0] = np.nan
    array = tmp_path / "nan_x.npy"
    np.save(array, keypoints)
    result = cli("predict", str(DEMO_MODEL), str(array))
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [
        f"dance-recognition predict: error: {array} has NaN/inf x/y positions for joints with confidence > 0; give "
        "those joints confidence 0 (missing) or finite positions"]
    keypoints[..., 2] = 0.0  # missing joints may carry NaN positions: then it is "nobody seen", not bad input
    keypoints[:, :3, 2] = 0.9
    keypoints[:, :3, :2] = 100.0
    np.save(array, keypoints)
    result = cli("predict", str(DEMO_MODEL), str(array))
    assert result.returncode == 0, result.stderr


def test_predict_refuses_a_non_numeric_array(tmp_path):
    array = tmp_path / "words.npy"
    np.save(array, np.array(["a", "b", "c"] * 10).reshape(10, 1, 3))
    result = cli("predict", str(DEMO_MODEL), str(array))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "holds <U1 values; expected numbers" in result.stderr


@pytest.mark.parametrize("option", [["--rate", "nan"], ["--rate", "inf"], ["--start-offset", "nan"],
                                    ["--clock", "inf"]])
def test_bag_play_refuses_non_finite_numbers(talker_copy, option):
    # --rate nan passed the "<= 0" check and played forever, deaf to SIGTERM
    result = cli("bag", "play", str(talker_copy), *option)
    assert result.returncode == 1
    assert "--rate must be a positive number" in result.stderr


def test_label_start_needs_a_class_name():
    result = cli("label", "--start", " ", "--wait", "0.1")
    assert result.returncode == 1
    assert "--start needs a class name" in result.stderr


def _short_clip(path: Path) -> Path:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data (real videos) is absent")
    from dance_recognition.media.video import VideoReader, VideoWriter

    with VideoReader(data / "videos" / "ta_chi.mp4") as reader, VideoWriter(path, reader.fps,
                                                                               reader.declared_size) as writer:
        for index, image in enumerate(reader):
            if index == 10:
                break
            writer.write(image)
    return path


@pytest.mark.parametrize("command", ["preview", "live", "export"])
def test_an_output_that_is_the_input_is_refused_and_the_input_kept(tmp_path, command):
    """`preview clip.mp4 clip.mp4` overwrote the clip while reading it (25 of 90 frames left);
    `live --input X --annotated-video X` and `export best.pt --onnx best.pt` would do the same."""
    if command == "export":
        victim = tmp_path / "model.pt"
        shutil.copy(DEMO_MODEL, victim)
        argv = ["export", str(victim), "--onnx", str(victim)]
    else:
        victim = _short_clip(tmp_path / "clip.mp4")
        argv = (["preview", str(victim), str(victim)] if command == "preview" else
                ["live", "--input", str(victim), "--annotated-video", str(victim)])
    before = victim.read_bytes()
    result = cli(*argv)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(
        f"{victim} is the input {victim}: writing it would destroy the input; give another file name")
    assert victim.read_bytes() == before
