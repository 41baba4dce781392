"""`dance-recognition record` as a real process against real publishers (own ROS_DOMAIN_ID, see conftest):
signals, storages, QoS matching, take labels, and the whole loop live graph -> bag -> dataset -> training."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rclpy
from bag_samples import skeleton_cdr
from conftest import REPO, shared_video
from dance_recognition.msg import LabelEvent, Skeleton
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import Image

from dance_recognition.bags import open_bag
from dance_recognition.data.dataset import SkeletonDataset
from dance_recognition.ros.skeleton_conversions import ns_to_stamp, stamp_to_ns

pytestmark = pytest.mark.slow


def skeleton_msg(stamp_ns: int, rng: np.random.Generator) -> Skeleton:
    """A real Skeleton message (rclpy class) from the test bag helper's CDR."""
    keypoints = np.concatenate([rng.uniform(0, 300, (18, 2)), np.ones((18, 1))], axis=1)
    return deserialize_message(skeleton_cdr(stamp_ns, {3: keypoints}), Skeleton)


@pytest.fixture()
def node(probe):
    """The test's rclpy node (conftest's probe): publishes what the recorder records."""
    return probe


def wait_matched(node, publishers, recorder: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(p.get_subscription_count() == 0 for p in publishers):
        assert recorder.poll() is None, "the recorder exited before subscribing"
        assert time.monotonic() < deadline, "the recorder never subscribed"
        rclpy.spin_once(node, timeout_sec=0.05)


def publish_skeletons(node, publisher, count: int, rate_hz: float = 30.0) -> list[int]:
    rng = np.random.default_rng(0)
    stamps = []
    for _ in range(count):
        stamp = time.time_ns()
        publisher.publish(skeleton_msg(stamp, rng))
        stamps.append(stamp)
        rclpy.spin_once(node, timeout_sec=1.0 / rate_hz)
    return stamps


@pytest.mark.parametrize(("storage", "stop"), [("mcap", signal.SIGINT), ("sqlite3", signal.SIGTERM)])
def test_stopped_recording_is_complete(node, processes, tmp_path, storage, stop):
    """After Ctrl-C or SIGTERM every published message is in a complete bag (metadata.yaml written),
    and a second reader sees the same messages and stamps."""
    bag = tmp_path / "session"
    recorder = processes.cli("record", "record", str(bag), "--storage", storage, "--topics", "skeletons", "image_raw")
    skeletons = node.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    images = node.create_publisher(Image, "image_raw", qos_profile_sensor_data)  # best effort, like camera_node
    wait_matched(node, [skeletons, images], recorder)
    stamps = publish_skeletons(node, skeletons, 60)
    image = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48))
    for stamp in stamps[:10]:
        image.header.stamp = ns_to_stamp(stamp)
        images.publish(image)
        rclpy.spin_once(node, timeout_sec=0.03)
    time.sleep(0.5)
    code, output = processes.finish("record", stop)
    assert code == 0, output
    assert (bag / "metadata.yaml").is_file()
    assert "/skeletons (dance_recognition/msg/Skeleton): 60 msgs" in output, output
    with open_bag(bag) as opened:
        assert not opened.notes and opened.storage == storage
        recorded = [stamp_to_ns(opened.decode(m).header.stamp) for m in opened.messages(["/skeletons"])]
        qos = opened.topics["/image_raw"].qos[0]
        ours = sorted((m.topic, m.log_time_ns, m.data) for m in opened.messages())
        assert opened.topics["/image_raw"].count >= 8  # best effort, matched: not refused
    assert recorded == stamps
    assert qos.reliability.name == "BEST_EFFORT"
    if storage == "mcap":
        from mcap.reader import make_reader
        from mcap_ros2.decoder import DecoderFactory

        with (bag / "session.mcap").open("rb") as f:
            messages = list(make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages())
        theirs = sorted((c.topic, m.log_time, m.data) for _, c, m, _ in messages)
        decoded = [d for _, c, _, d in messages if c.topic == "/skeletons"]
        assert decoded[0].people[0].track_id == 3
    else:
        from rosbags.rosbag2 import Reader

        with Reader(bag / "session.db3") as reader:
            theirs = sorted((c.topic, t, bytes(d)) for c, t, d in reader.messages())
    assert theirs == ours


def _mcap_messages(file: Path) -> list[tuple[str, int, bytes]]:
    """One .mcap file through the independent reader (mcap + mcap-ros2-support); it must be closed."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with file.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_summary() is not None, f"{file.name} was not closed (no summary)"
        return [(c.topic, m.log_time, m.data) for _, c, m, _ in reader.iter_decoded_messages()]


@pytest.mark.parametrize("split", [("--max-bag-duration", "1"), ("--max-bag-size", "86016")])
def test_split_recording_reads_plays_and_converts_as_one_bag(node, processes, tmp_path, split):
    """`record --max-bag-duration/--max-bag-size`: several complete files in one metadata.yaml; the
    independent reader reads each, and `bag info`, `bag play` and `bag2dataset` take the whole."""
    import yaml

    bag = tmp_path / "split"
    recorder = processes.cli("record", "record", str(bag), "--topics", "skeletons", "image_raw", "--label", "wave",
                             *split)
    skeletons = node.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    images = node.create_publisher(Image, "image_raw", QoSProfile(depth=100))
    wait_matched(node, [skeletons, images], recorder)
    image = Image(height=64, width=64, encoding="rgb8", step=192, data=bytes(64 * 192))  # 12 kB: splits by size
    rng, stamps = np.random.default_rng(0), []
    for _ in range(100):
        stamps.append(time.time_ns())
        skeletons.publish(skeleton_msg(stamps[-1], rng))
        image.header.stamp = ns_to_stamp(stamps[-1])
        images.publish(image)
        rclpy.spin_once(node, timeout_sec=1 / 30)
    time.sleep(0.5)
    code, output = processes.finish("record")
    assert code == 0 and "split into" in output, output
    files = sorted(bag.glob("*.mcap"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
    assert len(files) >= 3, [f.name for f in files]
    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["relative_file_paths"] == [f.name for f in files] and len(info["files"]) == len(files)
    parts = [_mcap_messages(file) for file in files]
    assert [len(part) for part in parts] == [entry["message_count"] for entry in info["files"]]
    with open_bag(bag) as opened:
        assert not opened.notes
        ours = [(m.topic, m.log_time_ns, m.data) for m in opened.messages()]
        recorded = [stamp_to_ns(opened.decode(m).header.stamp) for m in opened.messages(["/skeletons"])]
    assert sorted(m for part in parts for m in part) == sorted(ours) and recorded == stamps

    shown = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "bag", "info", str(bag)],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert f"Messages:          {len(ours)}" in shown.stdout and "wave [0.00s.." in shown.stdout, shown.stdout

    converted = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "bag2dataset", str(bag),
                                str(tmp_path / "dataset"), "--window", "16", "--stride", "8", "--val-fraction", "0"],
                               capture_output=True, text=True, cwd=REPO, timeout=300)
    assert converted.returncode == 0, converted.stdout[-2000:] + converted.stderr[-2000:]
    assert SkeletonDataset(tmp_path / "dataset").class_counts("train") == {"wave": (100 - 16) // 8 + 1}

    replayed: list[int] = []
    node.create_subscription(Skeleton, "skeletons", lambda m: replayed.append(stamp_to_ns(m.header.stamp)),
                             QoSProfile(depth=200))
    play = processes.cli("play", "bag", "play", str(bag), "--topics", "/skeletons", "--wait-for-subscribers", "60")
    deadline = time.monotonic() + 120
    while (play.poll() is None or len(replayed) < len(stamps)) and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    assert play.returncode == 0, processes.log("play")
    assert replayed == stamps, processes.log("play")


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_full_disk_stops_with_one_line_and_a_complete_bag(node, tmp_path, storage):
    """A recorder whose files cannot grow past 400 kB (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail
    with EFBIG, as on a full disk) stops by itself with one error line and exit code 1, and leaves a
    complete bag (index, metadata.yaml) holding the first messages received, as published."""
    import resource

    limit = 400_000

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    bag = tmp_path / "full"
    recorder = subprocess.Popen([sys.executable, "-m", "dance_recognition.cli", "record", str(bag), "--storage",
                                 storage, "--topics", "skeletons", "image_raw"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=REPO, preexec_fn=small_disk)
    try:
        skeletons = node.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
        images = node.create_publisher(Image, "image_raw", QoSProfile(depth=100))
        wait_matched(node, [skeletons, images], recorder)
        image = Image(height=64, width=64, encoding="rgb8", step=192, data=bytes(64 * 192))  # 12 kB
        rng, stamps, deadline = np.random.default_rng(0), [], time.monotonic() + 60
        while recorder.poll() is None and time.monotonic() < deadline:  # 370 kB/s: full within two seconds
            stamps.append(time.time_ns())
            skeletons.publish(skeleton_msg(stamps[-1], rng))
            image.header.stamp = ns_to_stamp(stamps[-1])
            images.publish(image)
            rclpy.spin_once(node, timeout_sec=1 / 30)
        output = recorder.communicate(timeout=60)[0]
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert recorder.returncode == 1, output
    errors = [line for line in output.splitlines() if "ERROR" in line or "Traceback" in line]
    failure = r"failed \((File too large|disk I/O error)\): recording stopped"  # MCAP: EFBIG; SQLite says I/O
    assert len(errors) == 1 and re.search(failure, errors[0]), output
    assert (bag / "metadata.yaml").is_file() and not (bag / ".reserve").exists()
    with open_bag(bag) as opened:
        assert not opened.notes, opened.notes  # complete: read by rosbags, not recovered
        recorded = [stamp_to_ns(opened.decode(m).header.stamp) for m in opened.messages(["/skeletons"])]
        ours = sorted((m.topic, m.log_time_ns, m.data) for m in opened.messages())
    assert 10 <= len(recorded) < len(stamps) and recorded == stamps[:len(recorded)]
    import yaml

    info = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["message_count"] == len(ours)
    if storage == "mcap":
        assert sorted(_mcap_messages(bag / "full.mcap")) == ours
        assert (bag / "full.mcap").stat().st_size <= limit


def test_sigkill_keeps_what_was_flushed(node, processes, tmp_path):
    """The documented guarantee: after kill -9 the bag opens and holds every message received more
    than flush_period_s (1 s) before the kill."""
    bag = tmp_path / "killed"
    recorder = processes.cli("record", "record", str(bag), "--topics", "skeletons")
    skeletons = node.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    wait_matched(node, [skeletons], recorder)
    stamps = publish_skeletons(node, skeletons, 60)
    time.sleep(1.6)  # at least one flush after the last message
    publish_skeletons(node, skeletons, 5)  # may be lost
    processes.finish("record", signal.SIGKILL, timeout_s=10)
    assert not (bag / "metadata.yaml").exists()
    with open_bag(bag) as opened:
        assert any("metadata.yaml is missing" in note for note in opened.notes)
        recorded = [stamp_to_ns(opened.decode(m).header.stamp) for m in opened.messages(["/skeletons"])]
    assert recorded[:60] == stamps


def test_take_label_and_label_events_from_a_script(node, processes, tmp_path):
    """`record --label` stores the take's class; events published by a script become segments."""
    bag = tmp_path / "take"
    recorder = processes.cli("record", "record", str(bag), "--topics", "skeletons", "labels", "--label", "wave")
    skeletons = node.create_publisher(Skeleton, "skeletons", QoSProfile(depth=100))
    labels = node.create_publisher(LabelEvent, "labels", QoSProfile(depth=10))
    wait_matched(node, [skeletons, labels], recorder)
    stamps = publish_skeletons(node, skeletons, 30)
    event = LabelEvent(event=LabelEvent.START, label="squat", track_id=3)
    event.header.stamp = ns_to_stamp(time.time_ns())
    labels.publish(event)
    stamps += publish_skeletons(node, skeletons, 30)
    time.sleep(0.3)
    code, output = processes.finish("record")
    assert code == 0, output
    info = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "bag", "info", str(bag)],
                          capture_output=True, text=True, cwd=REPO)
    assert "/labels: 2 segment(s)" in info.stdout, info.stdout
    assert "wave [0.00s.." in info.stdout and "squat [" in info.stdout and "(track 3," in info.stdout


# ---------------------------------------------------------------- the whole loop on a real video

def test_live_session_to_dataset_to_training(node, processes, tmp_path):
    """`live --record` on a real video with label events from a script, an image-only `record`
    beside it, then bag2dataset (skeletons; images raw and JPEG through MediaPipe) and training."""
    video = shared_video("ta_chi.mp4")
    session, images_only = tmp_path / "session", tmp_path / "images_only"
    live = processes.cli("live", "live", "--input", str(video), "--loop", "--record", str(session),
                         "--record-images", "jpeg", "--no-annotated-video", cwd=tmp_path)
    beside = processes.cli("record", "record", str(images_only), "--topics", "labels", "--images", "raw")
    beside_stopped = False
    labels = node.create_publisher(LabelEvent, "labels", QoSProfile(depth=10))
    seen: list[int] = []
    node.create_subscription(Skeleton, "skeletons", lambda m: seen.append(stamp_to_ns(m.header.stamp)),
                             QoSProfile(depth=100))
    try:
        deadline = time.monotonic() + 240
        while labels.get_subscription_count() < 2 or not seen:  # both recorders and the first skeleton
            assert live.poll() is None and beside.poll() is None and time.monotonic() < deadline
            rclpy.spin_once(node, timeout_sec=0.1)
        segments = []
        for label in ("wave", "squat"):
            event = LabelEvent(event=LabelEvent.START, label=label, track_id=LabelEvent.ALL_PEOPLE)
            event.header.stamp = ns_to_stamp(time.time_ns())
            labels.publish(event)
            first = len(seen)
            while len(seen) < first + 24:  # at least 24 skeleton frames per take
                assert live.poll() is None and time.monotonic() < deadline, "the live graph stopped"
                rclpy.spin_once(node, timeout_sec=0.1)
            segments.append((label, stamp_to_ns(event.header.stamp)))
        stop = LabelEvent(event=LabelEvent.STOP, label="squat", track_id=LabelEvent.ALL_PEOPLE)
        stop.header.stamp = ns_to_stamp(time.time_ns())
        labels.publish(stop)
        time.sleep(0.5)
        beside.send_signal(signal.SIGINT)  # the image-only bag holds the labelled takes, no more
        beside_stopped = True
    finally:
        live.send_signal(signal.SIGINT)
        if not beside_stopped:
            beside.send_signal(signal.SIGINT)
        live_code, live_output = processes.finish("live", None)
        beside_code, beside_output = processes.finish("record", None)
    assert live_code == 0, live_output[-3000:]
    assert beside_code == 0, beside_output[-3000:]
    with open_bag(session) as bag:
        assert not bag.notes
        assert {"/skeletons", "/actions", "/labels", "/image_raw/compressed"} <= set(bag.topics), bag.topics
        assert bag.topics["/image_raw/compressed"].count > 0

    classes = tmp_path / "classes.txt"
    classes.write_text("wave\nsquat\n")
    window = ["--window", "16", "--stride", "8", "--classes", str(classes), "--val-fraction", "0"]

    def bag2dataset(bag: Path, output: str, *args: str) -> dict:
        result = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "bag2dataset", str(bag),
                                 str(tmp_path / output), *args, *window],
                                capture_output=True, text=True, cwd=tmp_path, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return json.loads((tmp_path / f"{output}_summary.json").read_text())

    bag2dataset(session, "from_skeletons")
    dataset = SkeletonDataset(tmp_path / "from_skeletons")
    assert dataset.layout == "mediapipe_pose_33"
    counts = dataset.class_counts("train")
    assert counts["wave"] > 0 and counts["squat"] > 0, counts
    with open_bag(session) as bag:
        stamps = sorted(stamp_to_ns(bag.decode(m).header.stamp) for m in bag.messages(["/skeletons"]))
    for info in dataset.samples:  # every sample lies inside the take it is labelled with
        label = dataset.class_names[info.label]
        start = dict(segments)[label]
        assert stamps[info.start_frame] >= start
        if label == "wave":
            assert stamps[info.end_frame - 1] < dict(segments)["squat"]

    for bag, topic, output in ((session, "/image_raw/compressed", "from_jpeg"),
                               (images_only, "", "from_raw")):
        summary = bag2dataset(bag, output, *(["--image-topic", topic] if topic else []))
        record = summary["bags"][str(bag)]
        assert record["status"] == "ok" and record["frames"] > 0, record
        assert SkeletonDataset(tmp_path / output).layout == "mediapipe_pose_33"

    train = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "train", str(tmp_path / "from_skeletons"),
                            str(tmp_path / "run"), "--set", "epochs=1", "--set", "batch_size=4"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    assert (tmp_path / "run" / "best.pt").is_file() or (tmp_path / "run" / "last.pt").is_file()


def test_bag_play_into_action_node_gives_the_live_labels(node, processes, tmp_path):
    """A live run on a real video recorded with `live --record`, then `bag play --clock --rate 0.25`
    of its skeletons into a fresh action_node (use_sim_time, stride 1: a prediction at every frame,
    slow enough that its queue never drops one): every live label whose window lies in the bag comes
    back for the same window (header stamp, window start, track) with the same class and scores."""
    from dance_recognition.msg import ActionLabel

    from dance_recognition.ros.graph import LiveArguments

    video = shared_video("ta_chi.mp4")
    params = tmp_path / "window.yaml"  # labels as a function of the window alone (no smoothing across windows)
    params.write_text("/**/action_node:\n  ros__parameters:\n    mode: window\n    window: 24\n    smoothing: 1.0\n"
                      "    hysteresis: 0.0\n")
    session = tmp_path / "session"
    heard: dict[str, list] = {"live": [], "replay": []}
    phase = "live"
    node.create_subscription(ActionLabel, "actions", lambda a: heard[phase].append(a), QoSProfile(depth=1000))
    live_run = processes.cli("live", "live", "--input", str(video), "--loop",
                             "--params-file", str(params), "--record", str(session), "--no-annotated-video",
                             cwd=tmp_path)
    deadline = time.monotonic() + 400
    while len(heard["live"]) < 10:  # enough labels, whatever speed pose_node runs at on this machine
        assert live_run.poll() is None and time.monotonic() < deadline, processes.log("live")[-3000:]
        rclpy.spin_once(node, timeout_sec=0.1)
    code, output = processes.finish("live")
    assert code == 0, output[-3000:]
    phase = "replay"

    def key(label) -> tuple[int, int, int]:
        return stamp_to_ns(label.header.stamp), stamp_to_ns(label.window_start), label.track_id

    with open_bag(session) as bag:
        first = min(stamp_to_ns(bag.decode(m).header.stamp) for m in bag.messages(["/skeletons"]))
        live = {key(a): (a.label, list(a.top_k_labels), list(a.top_k_scores))
                for a in (bag.decode(m) for m in bag.messages(["/actions"])) if stamp_to_ns(a.window_start) >= first}
    assert len(live) >= 5, f"only {len(live)} live labels with their whole window in the bag"
    assert live.keys() <= {key(a) for a in heard["live"]}  # what the recorder stored is what the live node sent

    replayed: dict = {}
    action = processes.start("action_node", {"stride": 1, "use_sim_time": True},
                             arguments=LiveArguments(params_file=str(params)))
    play = processes.cli("play", "bag", "play", str(session), "--topics", "/skeletons", "--clock", "--rate", "0.25",
                         "--wait-for-subscribers", "180")
    deadline = time.monotonic() + 600
    while (play.poll() is None or not set(live) <= set(replayed)) and time.monotonic() < deadline:
        assert action.poll() is None, processes.log("action_node")[-3000:]
        if play.poll() is not None and deadline - time.monotonic() > 10:
            deadline = time.monotonic() + 10  # played: what is still missing has 10 s to arrive
        rclpy.spin_once(node, timeout_sec=0.1)
        for label in heard["replay"]:
            replayed.setdefault(key(label), (label.label, list(label.top_k_labels), list(label.top_k_scores)))
    assert play.returncode == 0, processes.log("play")
    missing = sorted(set(live) - set(replayed))
    assert not missing, f"{len(missing)}/{len(live)} live windows not replayed: {processes.log('action_node')[-2000:]}"
    for window, (label, top_labels, top_scores) in live.items():
        again = replayed[window]
        assert (again[0], again[1]) == (label, top_labels), window
        assert np.allclose(again[2], top_scores, atol=1e-4), window


def test_keyboard_labeller_and_one_shot_events_reach_the_bag(processes, tmp_path):
    """`label` in a real terminal (a pty): keys publish START/switch/STOP; `--start`/`--stop` from a script."""
    import os
    import pty
    import select

    from dance_recognition.bags.labels import LabelEvent as Event
    from dance_recognition.bags.labels import segments_from_events

    classes = tmp_path / "classes.txt"
    classes.write_text("salsa\nmerengue\n")
    bag = tmp_path / "labelled"
    processes.cli("record", "record", str(bag), "--topics", "labels")
    terminal, slave = pty.openpty()  # a real terminal for the labeller; no fork of this threaded process
    labeller = subprocess.Popen([sys.executable, "-m", "dance_recognition.cli", "label", "--classes", str(classes)],
                                stdin=slave, stdout=slave, stderr=slave, cwd=REPO, start_new_session=True)
    os.close(slave)
    screen = b""

    def status() -> bytes:  # the status line as last drawn
        return screen.rsplit(b"\x1b[K", 1)[-1]

    def read_until(text: bytes, timeout_s: float = 60.0, whole: bool = False) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout_s
        while (status() != text) if whole else (text not in screen):
            assert time.monotonic() < deadline, screen.decode(errors="replace")
            assert labeller.poll() is None, f"the labeller exited: {screen.decode(errors='replace')}"
            if select.select([terminal], [], [], 0.2)[0]:
                screen += os.read(terminal, 1024)

    try:
        read_until(b"[1] salsa  [2] merengue  [space] stop  [q] quit")
        read_until(b"now: (no label)", whole=True)  # without the "no recorder" note: the recorder subscribed
        for key, shown in ((b"1", b"now: salsa"), (b"2", b"now: merengue"), (b" ", b"now: (no label)"),
                           (b"x", b"now: (no label)")):
            time.sleep(0.3)
            os.write(terminal, key)
            read_until(shown, whole=True)
        os.write(terminal, b"q")
        deadline = time.monotonic() + 30
        while labeller.poll() is None and time.monotonic() < deadline:  # keep draining its terminal
            if select.select([terminal], [], [], 0.2)[0]:
                try:
                    screen += os.read(terminal, 1024)
                except OSError:  # EIO: the labeller closed its terminal (exited)
                    break
        assert labeller.wait(timeout=10) == 0, screen.decode(errors="replace")
        once = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "label", "--start", "salsa", "--track",
                               "4"], capture_output=True, text=True, cwd=REPO, timeout=60)
        assert once.returncode == 0 and "published START salsa (track 4) on /labels" in once.stdout, once.stderr
    finally:
        if labeller.poll() is None:
            labeller.kill()
        os.close(terminal)
        code, output = processes.finish("record")
    assert code == 0, output
    with open_bag(bag) as opened:
        events = [opened.decode(m) for m in opened.messages(["/labels"])]
    assert [(e.event, e.label, e.track_id) for e in events] == [(0, "salsa", -1), (0, "merengue", -1),
                                                                 (1, "merengue", -1), (0, "salsa", 4)]
    segments, notes = segments_from_events([Event(stamp_to_ns(e.header.stamp), e.event, e.label, e.track_id)
                                            for e in events])
    assert [(s.label, s.track_id, s.end_ns is None) for s in segments] == [
        ("salsa", -1, False), ("merengue", -1, False), ("salsa", 4, True)] and not notes
    nobody = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "label", "--stop", "--wait", "1"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert nobody.returncode == 1 and "no recorder subscribes to /labels" in nobody.stderr
