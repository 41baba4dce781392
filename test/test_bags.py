"""Bag reading, writing, labels and bag2dataset on real bag files (ours, and real `ros2 bag record` bags)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bag_samples import LABEL_EVENT, SKELETON, START_NS, label_event_cdr, skeleton_cdr, write_moves_bag
from conftest import REPO, shared_data_dir

from dance_recognition.bags import BagError, BagWriter, open_bag, qos_profile
from dance_recognition.bags.convert import BagConversionConfig, bags_to_dataset
from dance_recognition.bags.errors import LabelError
from dance_recognition.bags.info import info_lines
from dance_recognition.bags.keymap import Press
from dance_recognition.bags.labels import LabelEvent as Event
from dance_recognition.bags.labels import LabelSegment, check_segments, segments_from_events
from dance_recognition.bags.writer import check_split
from dance_recognition.data.dataset import SkeletonDataset
from dance_recognition.data.extract import ExtractConfig

MOVES = [("wave", 70), ("squat", 80), ("march", 70)]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dance_recognition.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)


def config(**windows) -> BagConversionConfig:
    settings = {"window": 32, "stride": 16, "val_fraction": 0.0} | windows
    return BagConversionConfig(windows=ExtractConfig(**settings))


@pytest.fixture()
def talker() -> Path:
    data = shared_data_dir()
    if data is None or not (data / "rosbag2").is_dir():
        pytest.skip("../shared/data/rosbag2 (real `ros2 bag record` bags) is absent")
    return data / "rosbag2"


# ---------------------------------------------------------------- writing and reading back

@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_written_bag_reads_back_identically(tmp_path, storage):
    sample = write_moves_bag(tmp_path / "take", MOVES, storage=storage)
    with open_bag(sample.path) as bag:
        assert bag.storage == storage and not bag.notes
        assert bag.topics["/skeletons"].count == sample.frames
        assert bag.topics["/labels"].msgtype == LABEL_EVENT
        ours = [(m.topic, m.log_time_ns, m.data) for m in bag.messages()]
        first = bag.decode(next(bag.messages(["/skeletons"])))
        assert first.layout == "openpose_coco_18" and first.people[0].track_id == 0
    assert len(ours) == sample.frames + len(MOVES) + 2
    metadata = (sample.path / "metadata.yaml").read_text()
    assert "version: 9" in metadata and "offered_qos_profiles" in metadata and "serialization_format: cdr" in metadata
    if storage == "mcap":
        # the second, independent reader: mcap + mcap-ros2-support decode with the schemas stored in the file
        from mcap.reader import make_reader
        from mcap_ros2.decoder import DecoderFactory

        with (sample.path / "take.mcap").open("rb") as f:
            reader = make_reader(f, decoder_factories=[DecoderFactory()])
            theirs = []
            for schema, channel, message, decoded in reader.iter_decoded_messages():
                assert schema.encoding == "ros2msg" and channel.message_encoding == "cdr"
                theirs.append((channel.topic, message.log_time, message.data))
                if channel.topic == "/skeletons" and message.log_time == ours[0][1]:
                    assert decoded.layout == "openpose_coco_18"
                    assert decoded.header.stamp.sec == START_NS // 10**9
        assert sorted(theirs) == sorted(ours)
    else:
        from rosbags.rosbag2 import Reader

        with Reader(sample.path) as reader:
            theirs = [(c.topic, t, bytes(d)) for c, t, d in reader.messages()]
        assert sorted(theirs) == sorted(ours)


def _independent_read(mcap_file: Path) -> list[tuple[str, int, bytes]]:
    """Every message of one .mcap file through mcap + mcap-ros2-support (summary and footer required)."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with mcap_file.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        assert reader.get_summary() is not None, f"{mcap_file.name} has no summary: not closed"
        return [(channel.topic, message.log_time, message.data)
                for _, channel, message, decoded in reader.iter_decoded_messages()]


@pytest.mark.parametrize(("storage", "split"), [("mcap", {"max_bytes": 86016}), ("mcap", {"max_duration_s": 1.0}),
                                                ("sqlite3", {"max_duration_s": 2.0})])
def test_split_bag_files_are_each_complete_and_listed_in_one_metadata(tmp_path, storage, split):
    """Like ``ros2 bag record -b/-d``: <name>_0, <name>_1... each a complete file, one metadata.yaml
    listing them; the whole reads back as the unsplit bag, and converts to the same samples."""
    import yaml

    whole = write_moves_bag(tmp_path / "whole", MOVES, storage=storage)
    sample = write_moves_bag(tmp_path / "take", MOVES, storage=storage, **split)
    suffix = ".mcap" if storage == "mcap" else ".db3"
    files = sorted(sample.path.glob(f"*{suffix}"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
    assert len(files) >= 2 and [f.name for f in files] == [f"take_{n}{suffix}" for n in range(len(files))]
    info = yaml.safe_load((sample.path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["relative_file_paths"] == [f.name for f in files]
    assert [entry["path"] for entry in info["files"]] == [f.name for f in files]
    with open_bag(whole.path) as bag:
        expected = sorted((m.topic, m.log_time_ns, m.data) for m in bag.messages())
    assert sum(entry["message_count"] for entry in info["files"]) == info["message_count"] == len(expected)
    if storage == "mcap":
        parts = [_independent_read(file) for file in files]
        if "max_bytes" in split:  # a file is closed before it passes the size (one message may end it past)
            assert all(file.stat().st_size < 86016 + 20_000 for file in files[:-1])
    else:
        from rosbags.rosbag2 import Reader

        parts = []
        for file in files:
            with Reader(file) as reader:
                parts.append([(c.topic, t, bytes(d)) for c, t, d in reader.messages()])
    for entry, part in zip(info["files"], parts, strict=True):
        assert entry["message_count"] == len(part) > 0
        assert entry["starting_time"]["nanoseconds_since_epoch"] == min(t for _, t, _ in part)
    assert sorted(m for part in parts for m in part) == expected
    with open_bag(sample.path) as bag:
        assert not bag.notes and bag.message_count == len(expected)
        ours = [(m.topic, m.log_time_ns, m.data) for m in bag.messages()]
        assert [t for _, t, _ in ours] == sorted(t for _, t, _ in ours)  # files merged in time order
        assert sorted(ours) == expected
        assert f"Messages:          {len(expected)}" in info_lines(bag)
        assert f"Files:             {', '.join(f.name for f in files)}" in info_lines(bag)  # as ros2 bag info
    converted = [bags_to_dataset([path], tmp_path / f"out-{path.name}", config()) for path in (whole.path, sample.path)]
    counts = [len(SkeletonDataset(tmp_path / f"out-{path.name}")) for path in (whole.path, sample.path)]
    assert counts[0] == counts[1] > 0 and converted[1].failed == converted[0].failed == {}
    assert converted[0].windows_per_class == converted[1].windows_per_class


def test_split_bag_killed_mid_file_keeps_every_flushed_message(tmp_path):
    """SIGKILL during a split recording: the closed files are complete, the open one is recovered up
    to its last flush, and the bag (no metadata.yaml yet) reads as one."""
    writer = BagWriter(tmp_path / "killed", max_duration_s=1.0)
    writer.add_topic("/skeletons", SKELETON, [qos_profile()])
    stamps = [START_NS + index * 33_333_333 for index in range(100)]  # 3.3 s: files 0..3
    for stamp in stamps:
        writer.write("/skeletons", stamp, skeleton_cdr(stamp, {}))
    writer.flush()
    writer.write("/skeletons", stamps[-1] + 1, skeleton_cdr(stamps[-1] + 1, {}))  # not flushed: may be lost
    assert len(writer.files) == 4 and not (tmp_path / "killed" / "metadata.yaml").exists()
    with open_bag(tmp_path / "killed") as bag:  # the writer was never closed, as after kill -9
        recovered = [n for n in bag.notes if "killed_3.mcap is damaged or was not closed" in n]
        assert recovered and len(bag.notes) == 2, bag.notes  # + metadata.yaml missing
        read = [bag.decode(m).header.stamp for m in bag.messages(["/skeletons"])]
    assert [s.sec * 10**9 + s.nanosec for s in read][:100] == stamps
    writer.close()


def test_split_file_that_cannot_be_created_ends_a_complete_bag(tmp_path):
    """The next split file cannot be created (here a folder holds its name; a full disk alike): the
    write fails once, and the bag closes with every message of the complete files before."""
    writer = BagWriter(tmp_path / "take", max_duration_s=1.0)
    writer.add_topic("/skeletons", SKELETON, [qos_profile()])
    (tmp_path / "take" / "take_1.mcap").mkdir()
    stamps = [START_NS + index * 100_000_000 for index in range(11)]  # the 11th goes into take_1
    for stamp in stamps[:10]:
        writer.write("/skeletons", stamp, skeleton_cdr(stamp, {}))
    with pytest.raises(OSError):
        writer.write("/skeletons", stamps[10], skeleton_cdr(stamps[10], {}))
    with pytest.raises(BagError, match="no more messages after the write error"):
        writer.write("/skeletons", stamps[10], skeleton_cdr(stamps[10], {}))
    writer.close()
    (tmp_path / "take" / "take_1.mcap").rmdir()
    with open_bag(tmp_path / "take") as bag:
        assert not bag.notes and bag.topics["/skeletons"].count == 10
    assert "take_0.mcap" in (tmp_path / "take" / "metadata.yaml").read_text()


def test_split_limits_are_checked():
    with pytest.raises(BagError, match="at least 86016 bytes"):
        check_split(1000, 0.0)
    with pytest.raises(BagError, match="max bag duration"):
        check_split(0, -1.0)
    check_split(0, 0.0)


def test_writer_refuses_existing_path_and_unknown_type(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="exists already"):
        BagWriter(tmp_path / "exists")
    with pytest.raises(BagError, match="unknown storage"):
        BagWriter(tmp_path / "x", storage="rosbag1")
    with BagWriter(tmp_path / "new") as writer, pytest.raises(BagError, match="no message definition for my_pkg"):
        writer.add_topic("/x", "my_pkg/msg/Thing")


def test_flush_makes_messages_survive_a_kill(tmp_path):
    """What ``flush`` wrote is readable from a bag that was never closed (SIGKILL guarantee)."""
    for storage in ("mcap", "sqlite3"):
        writer = BagWriter(tmp_path / storage, storage)
        writer.add_topic("/skeletons", SKELETON, [qos_profile()])
        for index in range(20):
            writer.write("/skeletons", START_NS + index, skeleton_cdr(START_NS + index, {}))
        writer.flush()
        for index in range(20, 25):  # not flushed: may be lost
            writer.write("/skeletons", START_NS + index, skeleton_cdr(START_NS + index, {}))
        with open_bag(tmp_path / storage) as bag:  # the writer is still open: no footer, no metadata.yaml
            assert bag.topics["/skeletons"].count >= 20
            assert any("metadata.yaml is missing" in note for note in bag.notes)
        writer.close()


# ---------------------------------------------------------------- bad bags

def test_real_talker_bags_info_and_missing_topics(talker, tmp_path):
    for name in ("talker_mcap", "talker_sqlite3"):
        result = cli("bag", "info", str(talker / name))
        assert result.returncode == 0, result.stderr
        assert re.search(r"/topic +std_msgs/msg/String +10 msgs", result.stdout), result.stdout
        assert re.search(r"/rosout +rcl_interfaces/msg/Log +10 msgs", result.stdout), result.stdout
        assert "Label segments:    none" in result.stdout
    result = cli("bag2dataset", str(talker / "talker_mcap"), str(tmp_path / "ds"), "--label", "wave")
    assert result.returncode != 0
    assert "needs a dance_recognition/msg/Skeleton topic" in result.stdout
    assert "/topic (std_msgs/msg/String)" in result.stdout and "/rosout (rcl_interfaces/msg/Log)" in result.stdout
    assert "Traceback" not in result.stderr


def test_missing_and_corrupt_metadata_are_recovered(talker, tmp_path):
    bag = tmp_path / "talker"
    shutil.copytree(talker / "talker_mcap", bag)
    (bag / "metadata.yaml").chmod(0o644)
    (bag / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: [unclosed\n")
    with open_bag(bag) as opened:
        assert opened.topics["/topic"].count == 10
        assert "metadata.yaml is corrupt" in opened.notes[0]
    (bag / "metadata.yaml").unlink()
    result = cli("bag", "info", str(bag))
    assert result.returncode == 0 and "metadata.yaml is missing" in result.stdout
    for file in bag.iterdir():
        file.unlink()
    result = cli("bag", "info", str(bag), str(tmp_path / "nothing"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "holds no .mcap or .db3 file" in lines[0] and "no such bag" in lines[1]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_truncated_files_recover_what_is_readable(tmp_path, storage):
    sample = write_moves_bag(tmp_path / "take", MOVES * 6, storage=storage, extra_topics=False, flush_every=30)
    file = sample.path / f"take.{'mcap' if storage == 'mcap' else 'db3'}"
    data = file.read_bytes()
    file.write_bytes(data[: len(data) * 2 // 3])
    with open_bag(sample.path) as bag:
        count = bag.topics["/skeletons"].count
        assert 0 < count < sample.frames
        assert any(f"recovered {count + bag.topics.get('/labels').count}" in note for note in bag.notes), bag.notes
    result = cli("bag", "info", str(sample.path))
    assert result.returncode == 0 and "is damaged or was not closed" in result.stdout


def test_unknown_message_type_without_definition(tmp_path):
    """A type with no stored definition and unknown here is named, with the topics it has."""
    with BagWriter(tmp_path / "custom") as writer:
        writer.add_topic("/skeletons", "my_robot/msg/Pose", msgdef="", type_hash="RIHS01_" + "0" * 64)
        writer.write("/skeletons", START_NS, b"\x00\x01\x00\x00")
    with open_bag(tmp_path / "custom") as bag, pytest.raises(BagError, match="my_robot/msg/Pose, which is neither"):
        bag.check_decodable("/skeletons")
    summary = bags_to_dataset([tmp_path / "custom"], tmp_path / "ds", config(), ["wave"])
    assert "needs a dance_recognition/msg/Skeleton topic" in summary.failed[str(tmp_path / "custom")]


def test_unhandled_image_encoding_is_named(tmp_path):
    from dance_recognition.bags.typestore import writing_typestore

    store = writing_typestore()
    image = store.types["sensor_msgs/msg/Image"](
        header=store.types["std_msgs/msg/Header"](stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0),
                                                  frame_id=""),
        height=2, width=2, encoding="16UC1", is_bigendian=0, step=4, data=np.zeros(8, np.uint8))
    with BagWriter(tmp_path / "depth") as writer:
        writer.add_topic("/image_raw", "sensor_msgs/msg/Image")
        writer.write("/image_raw", START_NS, bytes(store.serialize_cdr(image, "sensor_msgs/msg/Image")))
    summary = bags_to_dataset([tmp_path / "depth"], tmp_path / "ds", config(), ["wave"], append=False)
    reason = summary.failed[str(tmp_path / "depth")]
    assert "no labels" in reason  # labels are checked before any frame is decoded
    config_with_label = config()
    config_with_label.label = "wave"
    summary = bags_to_dataset([tmp_path / "depth"], tmp_path / "ds", config_with_label, ["wave"])
    assert "unsupported image encoding '16UC1'" in summary.failed[str(tmp_path / "depth")]


# ---------------------------------------------------------------- labels

def test_segments_from_events_switch_stop_and_open_end():
    events = [Event(10, 0, "wave"), Event(20, 0, "squat"), Event(30, 1, "squat"), Event(40, 1, "march"),
              Event(50, 0, "march", 3)]
    segments, notes = segments_from_events(events)
    assert [(s.label, s.start_ns, s.end_ns, s.track_id) for s in segments] == [
        ("wave", 10, 20, -1), ("squat", 20, 30, -1), ("march", 50, None, 3)]
    assert len(notes) == 1 and "STOP 'march'" in notes[0]


def test_label_checks():
    segments = [LabelSegment("wave", 100, 200), LabelSegment("salsa", 300, 400)]
    with pytest.raises(LabelError, match="salsa not in the classes file"):
        check_segments(segments, "bag", 0, 1000, ["wave"])
    with pytest.raises(LabelError, match="overlapping label segments wave"):
        check_segments([LabelSegment("wave", 100, 200), LabelSegment("squat", 150, 300, track_id=2)], "bag", 0, 1000,
                       None)
    with pytest.raises(LabelError, match="outside the bag's time range"):
        check_segments([LabelSegment("wave", 2000, 3000)], "bag", 0, 1000, None)
    clipped = [LabelSegment("wave", -50, 200)]
    assert "clipped" in check_segments(clipped, "bag", 0, 1000, None)[0] and clipped[0].start_ns == 0
    check_segments([LabelSegment("wave", 100, 200, 1), LabelSegment("squat", 150, 300, 2)], "bag", 0, 1000, None)


# ---------------------------------------------------------------- bag2dataset

def test_label_topic_segments_become_sample_labels(tmp_path):
    sample = write_moves_bag(tmp_path / "take", MOVES, tracks=(0, 7))
    summary = bags_to_dataset([sample.path], tmp_path / "ds", config(), ["wave", "squat", "march"])
    assert not summary.failed
    dataset = SkeletonDataset(tmp_path / "ds")
    assert dataset.layout == "openpose_coco_18" and dataset.header.sample_shape == (3, 32, 18, 1)
    for _index, info in enumerate(dataset.samples):
        label, _first, end = next(s for s in sample.segments if s[1] <= info.start_frame < s[2])
        assert dataset.class_names[info.label] == label and info.end_frame <= end, info
        assert info.person in (0, 7) and info.image_size == (640, 480)
    # windows of 32 with stride 16 inside each move, for each of the two performers
    expected = sum(((frames - 32) // 16 + 1) for _, frames in MOVES) * 2
    assert len(dataset) == expected
    # the samples hold the performers' keypoints of those very frames
    with open_bag(sample.path) as bag:
        frames = [bag.decode(m) for m in bag.messages(["/skeletons"])]
    info = dataset.samples[0]
    person = next(p for p in frames[info.start_frame].people if p.track_id == info.person)
    np.testing.assert_allclose(dataset.array(0)[0, 0, :, 0], np.nan_to_num(person.x), atol=1e-4)


def test_csv_and_whole_bag_labels_and_splits(tmp_path):
    bags = [write_moves_bag(tmp_path / f"take{i}", [("wave", 80)], events=False, seed=i).path for i in range(4)]
    csv = tmp_path / "segments.csv"
    csv.write_text("bag,start,end,label,track\n"
                   "take0,0,1.0,wave,\ntake0,1.0,,squat,0\n"
                   f"take1,{START_NS / 1e9:.3f},{START_NS / 1e9 + 2:.3f},march,\n"
                   "take2,0,,wave,\ntake3,0,,march,\n")
    cfg = config(val_fraction=0.5)
    cfg.csv = csv
    summary = bags_to_dataset(bags, tmp_path / "ds", cfg)
    assert not summary.failed, summary.failed
    dataset = SkeletonDataset(tmp_path / "ds")
    assert set(dataset.class_names) == {"wave", "squat", "march"}
    by_take: dict[tuple[str, str], set[str]] = {}
    for info in dataset.samples:
        by_take.setdefault((info.source, dataset.class_names[info.label]), set()).add(info.split)
    assert all(len(splits) == 1 for splits in by_take.values()), by_take  # never split inside a take
    assert "val" in {s.split for s in dataset.samples}
    # resume: nothing new; append: another bag with a label for the whole bag
    again = bags_to_dataset(bags, tmp_path / "ds", cfg)
    assert again.skipped == 4 and len(SkeletonDataset(tmp_path / "ds")) == len(dataset)
    extra = write_moves_bag(tmp_path / "take9", [("squat", 64)], events=False).path
    cfg_label = config()
    cfg_label.label = "squat"
    cfg_label.windows.stride = 8
    with pytest.raises(BagError, match="other settings"):
        bags_to_dataset([extra], tmp_path / "ds", cfg_label, append=True)
    cfg_label.windows.stride = 16
    bags_to_dataset([extra], tmp_path / "ds", cfg_label, append=True)
    assert len(SkeletonDataset(tmp_path / "ds")) > len(dataset)


def test_gaps_and_out_of_order_stamps(tmp_path):
    """Frames are placed by their header stamps: a late arrival is sorted in, a long gap splits windows."""
    from dance_recognition.data.synthetic import generate_move

    moves = generate_move("wave", 100, np.random.default_rng(0))
    period = round(1e9 / 30)
    stamps = [START_NS + i * period for i in range(50)] + [START_NS + 10**10 + i * period for i in range(50)]
    order = list(range(100))
    order[10], order[11] = 11, 10  # one frame received after its successor
    with BagWriter(tmp_path / "gappy") as writer:
        writer.add_topic("/skeletons", SKELETON)
        for received, index in enumerate(order):
            writer.write("/skeletons", START_NS + received * period + 10**6, skeleton_cdr(stamps[index],
                                                                                         {0: moves[index]}))
    assert writer.stats["/skeletons"].out_of_order == 1
    cfg = config(window=40, stride=5)
    cfg.label = "wave"
    summary = bags_to_dataset([tmp_path / "gappy"], tmp_path / "ds", cfg)
    record = summary.bags[str(tmp_path / "gappy")]
    assert any("1 frame(s) arrived out of stamp order" in n and "1 gap(s)" in n for n in record["notes"])
    dataset = SkeletonDataset(tmp_path / "ds")
    assert all(info.end_frame <= 50 or info.start_frame >= 50 for info in dataset.samples)
    first = dataset.array(0)[:, :, :, 0]  # frames 0..39 in stamp order, the swapped pair put back
    np.testing.assert_allclose(first[0, :, 0], moves[:40, 0, 0], atol=1e-3)


def test_bag2dataset_cli_bad_inputs_one_line_each_and_exit_2(tmp_path, talker):
    good = write_moves_bag(tmp_path / "good", MOVES).path
    overlapping = tmp_path / "overlap"
    with BagWriter(overlapping) as writer:
        writer.add_topic("/skeletons", SKELETON)
        writer.add_topic("/labels", LABEL_EVENT)
        for index in range(40):
            writer.write("/skeletons", START_NS + index * 33_000_000, skeleton_cdr(START_NS + index * 33_000_000, {}))
        writer.write("/labels", START_NS, label_event_cdr(START_NS, 0, "wave", 1))
        writer.write("/labels", START_NS + 1, label_event_cdr(START_NS + 1, 0, "squat", -1))
    classes = tmp_path / "classes.txt"
    classes.write_text("wave\nsquat\n")
    result = cli("bag2dataset", str(good), str(overlapping), str(talker / "talker_sqlite3"), str(tmp_path / "missing"),
                 str(tmp_path / "ds"), "--classes", str(classes), "--window", "32")
    assert result.returncode == 2, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 4, result.stdout
    assert "march not in the classes file" in result.stdout
    assert "overlapping label segments" in result.stdout
    assert "needs a dance_recognition/msg/Skeleton topic" in result.stdout
    assert "no such bag" in result.stdout
    assert "Traceback" not in result.stderr
    summary = json.loads((tmp_path / "ds_summary.json").read_text())
    assert len(summary["failed"]) == 4 and not (tmp_path / "ds").exists()


def test_info_lists_label_segments(tmp_path):
    sample = write_moves_bag(tmp_path / "take", MOVES)
    with open_bag(sample.path) as bag:
        text = "\n".join(info_lines(bag))
    assert re.search(r"/skeletons +dance_recognition/msg/Skeleton +220 msgs", text), text
    assert "/labels: 3 segment(s)" in text and "squat [2.33s..5.00s] (all, topic /labels)" in text


def test_keymap_start_switch_stop_quit():
    from dance_recognition.bags.keymap import KeyMap

    keys = KeyMap(["salsa", "merengue"])
    assert keys.legend().startswith("[1] salsa  [2] merengue")
    assert keys.press("1") == [Press(0, "salsa")] and keys.status() == "now: salsa"
    assert keys.press("1") == []  # already active
    assert keys.press("2") == [Press(0, "merengue")]
    assert keys.press("z") == [] and keys.press(" ") == [Press(1, "merengue")] and keys.press(" ") == []
    keys.press("1")
    assert keys.press("Q") == [Press(1, "salsa")] and keys.quitting
    with pytest.raises(LabelError, match="34 keys"):
        KeyMap([f"c{i}" for i in range(40)])


def test_playback_selection_remaps_and_timing(tmp_path):
    from dance_recognition.bags.playback import PlaybackClock, parse_remaps, select_topics, timed_messages

    sample = write_moves_bag(tmp_path / "take", MOVES)
    assert parse_remaps(["/a:=/b"]) == {"/a": "/b"}
    with pytest.raises(BagError, match="is not FROM:=TO"):
        parse_remaps(["/a"])
    with open_bag(sample.path) as bag:
        assert select_topics(bag, []) == ["/chatter", "/labels", "/skeletons"]
        with pytest.raises(BagError, match="has no topic /nope; its topics: /chatter"):
            select_topics(bag, ["/nope"])
        clock = PlaybackClock(bag.start_ns + 10**9, rate=2.0, wall_start=100.0)  # skip the first second, 2x
        timed = list(timed_messages(bag, ["/skeletons"], clock))
        assert all(m.log_time_ns >= bag.start_ns + 10**9 for _, m in timed)
        first_due, first = timed[0]
        last_due, last = timed[-1]
        assert last_due - first_due == pytest.approx((last.log_time_ns - first.log_time_ns) / 2e9)
        assert first_due == pytest.approx(100.0 + (first.log_time_ns - bag.start_ns - 10**9) / 2e9)


@pytest.mark.parametrize(("stop", "gap_s"), [("SIGTERM", 600.0), ("SIGINT", 600.0), ("SIGTERM", 0.0)])
def test_bag_play_stops_promptly_on_signals(tmp_path, stop, gap_s):
    """`bag play` ends within seconds on SIGTERM/SIGINT, also while it waits out a 10-minute gap
    between two messages (rclpy's handlers swallow both signals; the player must notice)."""
    import select
    import signal
    import time

    path = tmp_path / "gap"
    with BagWriter(path) as writer:
        writer.add_topic("/skeletons", SKELETON, [qos_profile()])
        stamps = [START_NS + i * 33_000_000 for i in range(3 if gap_s else 1800)]  # 1800: a minute at 30 Hz
        stamps += [stamps[-1] + round(gap_s * 1e9)] if gap_s else []
        for stamp in stamps:
            writer.write("/skeletons", stamp, skeleton_cdr(stamp, {}))
    play = subprocess.Popen([sys.executable, "-m", "dance_recognition.cli", "bag", "play", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    try:
        ready = select.select([play.stdout], [], [], 120)[0]
        assert ready and play.stdout.readline().startswith("playing "), "bag play did not start"
        time.sleep(1.0)  # into the gap / into the stream
        play.send_signal(getattr(signal, stop))
        signalled = time.monotonic()
        output = play.communicate(timeout=20)[0]
        assert time.monotonic() - signalled < 10, "bag play took too long to stop"
    finally:
        if play.poll() is None:
            play.kill()
            play.communicate()
    assert play.returncode == 0 and "Traceback" not in output, output
    published = int(re.search(r"published (\d+) messages", output).group(1))
    assert published == 3 if gap_s else 0 < published < 1800, output


def test_bag2dataset_and_extract_share_the_window_options():
    """One declaration (commands.extract.add_window_arguments): same options, defaults and config."""
    from dance_recognition.cli import build_parser
    from dance_recognition.commands.extract import window_config

    flags = ["--window", "24", "--stride", "6", "--whole-clips", "--pad", "edge", "--persons", "2",
             "--min-presence", "0.3", "--layout", "openpose_coco_18"]
    parser = build_parser()
    from_bags = parser.parse_args(["bag2dataset", "bag", "out", *flags])
    from_videos = parser.parse_args(["extract", "videos", "out", *flags])
    assert window_config(from_bags) == window_config(from_videos)
    assert window_config(from_bags).window == 24 and window_config(from_bags).pad == "edge"
    defaults = [window_config(parser.parse_args(args)) for args in (["bag2dataset", "b", "o"], ["extract", "v", "o"])]
    assert defaults[0] == defaults[1]


def test_bag_info_piped_into_head_ends_quietly(tmp_path, talker):
    """`bag info ... | head -1`: the reader closes the pipe early; no traceback, exit 0."""
    shell = subprocess.run(f"{sys.executable} -m dance_recognition.cli bag info {talker}/* {talker}/* | head -1",
                           shell=True, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert shell.stdout.startswith("Bag:") and "Traceback" not in shell.stderr and "Error" not in shell.stderr, shell
