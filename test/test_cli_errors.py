"""Hostile input to every command: one clear line naming the problem (exit 1), never a
traceback, and never a confident answer from no data. Run in-process through ``cli.main`` (the
same code the installed wrapper calls; the wrapper itself is tested in test_extract/test_live_nodes)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_video
from dance_recognition.msg import ActionLabel
from openpose_model_files import write_model
from sensor_msgs.msg import Image

from dance_recognition.cli import main
from dance_recognition.data.dataset import DatasetWriter, SampleInfo
from dance_recognition.media.video import VideoReader, VideoWriter
from dance_recognition.models.checkpoint import CheckpointError, load_checkpoint
from dance_recognition.pose.paf_grouping import PAF_MODELS
from dance_recognition.ros.launcher import Monitor
from dance_recognition.ros.nodes.action_node import default_checkpoint

DEMO = default_checkpoint()


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err: str, command: str, text: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"dance-recognition {command}: error: "), err
    assert text in lines[0], err


@pytest.mark.parametrize(("shape", "text"), [
    ((3, 0, 18, 1), "the sequence has no frames; nothing to classify"),
    ((3, 48, 18, 1), "no joint is detected in any of the 48 frames"),
    ((0, 18, 3), "the sequence has no frames"),
])
def test_predict_gives_no_label_for_no_data(capsys, tmp_path: Path, shape, text: str) -> None:
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros(shape, np.float32))
    code, out, err = run_cli(capsys, "predict", DEMO, path)
    assert code == 1 and out == ""
    assert_one_line(err, "predict", text)


@pytest.fixture()
def video() -> Path:
    return shared_video("ta_chi.mp4")


def test_preview_and_predict_run_with_the_openpose_backend(capsys, tmp_path: Path, video: Path) -> None:
    """Generated OpenPose COCO Caffe files of the right shape (the real ones are not installable),
    seeing nobody: these commands used to crash on the estimator before any frame."""
    spec = PAF_MODELS["COCO"]
    prototxt, caffemodel, _ = write_model(tmp_path, spec.num_heatmaps, 2 * len(spec.limbs), sees_nobody=True)
    openpose = ["--backend", "openpose", "--pose-model", "COCO", "--openpose-prototxt", prototxt,
                "--openpose-caffemodel", caffemodel]
    code, out, err = run_cli(capsys, "preview", video, tmp_path / "frame.png", "--frame", 3, *openpose)
    assert code == 0, err
    assert (tmp_path / "frame.png").is_file() and "(0 frame(s) with a person)" in out
    short = tmp_path / "short.mp4"
    with VideoReader(video) as reader, VideoWriter(short, reader.fps, reader.declared_size) as writer:
        for _, image in zip(range(5), reader, strict=False):
            writer.write(image)
    code, out, err = run_cli(capsys, "predict", DEMO, short, *openpose)
    assert code == 1 and out.strip() == f"no person detected in {short}", (out, err)


def test_no_confident_label_from_a_sliver_of_a_window(capsys, tmp_path: Path, video: Path) -> None:
    """H13: one frame padded to the 48-frame window answered "raise_arms 100.0%". Below
    MIN_WINDOW_SHARE of the window the answer is unknown with the reason, in predict (video and
    .npy) as in action_node, which refuses a min_frames below it."""
    from dance_recognition.models.classifier import ActionClassifier
    from dance_recognition.ros.nodes.action_node import ActionNode
    from dance_recognition.skeleton.windows import min_window_frames

    one = tmp_path / "one.mp4"
    with VideoReader(video) as reader, VideoWriter(one, reader.fps, reader.declared_size) as writer:
        writer.write(next(iter(reader)))
    classifier = ActionClassifier(DEMO)
    window = classifier.spec.window
    needed = min_window_frames(window, trained=True)
    code, out, err = run_cli(capsys, "predict", DEMO, one, "--mode", "window")
    assert code == 1, (out, err)
    assert (f"unknown  (too short: a person in 1 frame(s); a label needs at least {needed} of the model's "
            f"{window}-frame window)") in out and "%" not in out
    sequence = np.zeros((window, 18, 3), np.float32)
    sequence[:needed - 1] = np.random.default_rng(0).uniform(100, 200, (needed - 1, 18, 3))
    np.save(tmp_path / "sliver.npy", sequence)
    code, out, _ = run_cli(capsys, "predict", DEMO, tmp_path / "sliver.npy", "--mode", "window")
    assert code == 1 and out.startswith(f"unknown  (too short: a person in {needed - 1} frame(s)")
    sequence[needed - 1] = sequence[0]  # half the window: a label
    np.save(tmp_path / "half.npy", sequence)
    code, out, _ = run_cli(capsys, "predict", DEMO, tmp_path / "half.npy", "--mode", "window")
    assert code == 0 and "%" in out
    assert ActionNode._window_settings({"window": 0, "min_frames": needed}, classifier) == (window, needed)
    with pytest.raises(ValueError, match=f"min_frames {needed - 1} is below 50% of the window {window}"):
        ActionNode._window_settings({"window": 0, "min_frames": needed - 1}, classifier)


def _files(tmp: Path) -> dict[str, Path]:
    """The hostile inputs of the issue's one-line list, made once per test."""
    (tmp / "text.pt").write_text("hello\n")
    (tmp / "empty.npy").write_bytes(b"")
    np.save(tmp / "v17.npy", np.ones((3, 48, 17, 1), np.float32))
    np.save(tmp / "ok.npy", np.ones((3, 48, 18, 1), np.float32))
    (tmp / "folder").mkdir()
    videos = tmp / "videos" / "a"
    videos.mkdir(parents=True)
    (videos / "a_1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # looks like an mp4 to a checkpoint reader
    (tmp / "segments.csv").write_text("video,start,end,label\na/a_1.mp4,0\n")
    reference = tmp / "reference"
    reference.mkdir()
    np.save(reference / "train_data_joint.npy", np.zeros((2, 3, 10, 18, 1), np.float32))
    (reference / "train_label.pkl").write_bytes(pickle.dumps((["x", "y"], [0, 1])))
    return {"text": tmp / "text.pt", "empty": tmp / "empty.npy", "v17": tmp / "v17.npy", "ok": tmp / "ok.npy",
            "folder": tmp / "folder", "videos": tmp / "videos", "mp4": videos / "a_1.mp4",
            "csv": tmp / "segments.csv", "reference": reference, "out": tmp / "out"}


ONE_LINE_ERRORS = [
    ("predict", lambda f: [f["text"], f["ok"]], "is not a PyTorch checkpoint (a file written by torch.save)"),
    ("predict", lambda f: [f["mp4"], f["ok"]], "a_1.mp4 is not a PyTorch checkpoint"),
    ("predict", lambda f: [f["folder"], f["ok"]], "is a folder; give the checkpoint file"),
    ("predict", lambda f: [DEMO, f["empty"]], "empty.npy is empty: no numpy array in it"),
    ("predict", lambda f: [DEMO, f["folder"]], "folder is not a file; give a .npy sequence or a video file"),
    ("predict", lambda f: [DEMO, f["v17"]], "has 17 joints per frame but layout openpose_coco_18 has 18"),
    ("predict", lambda f: [DEMO, f["v17"], "--mode", "window"],
     "do not have the 18 joints (x, y, confidence) of layout openpose_coco_18"),
    ("predict", lambda f: [DEMO, f["ok"], "--layout", "bogus"], "unknown keypoint layout 'bogus'"),
    ("export", lambda f: [DEMO, "--onnx", f["folder"]], "the ONNX file"),
    ("export", lambda f: [DEMO, "--torchscript", f["text"] / "m.ts"], "a file stands in its folder path"),
    ("extract", lambda f: [f["videos"], f["text"]], "is a file; a dataset is a folder"),
    ("extract", lambda f: [f["videos"], f["out"], "--labels", "csv", "--csv", f["csv"]],
     "segments.csv:2: a row needs the 4 columns video,start,end,label"),
    ("import-dataset", lambda f: ["reference", f["reference"], f["out"], "--layout", "bogus"],
     "unknown keypoint layout 'bogus'"),
    ("live", lambda f: ["--input", f["mp4"], "--duration", "-5"], "--duration -5 is negative"),
    # found by this session's hostile user (tracebacks before)
    ("predict", lambda f: [DEMO, f["ok"], "--device", "bogus"], "unknown device 'bogus'; use cpu, cuda, cuda:N"),
    ("export", lambda f: [DEMO, "--onnx", "/proc/m.onnx"], "cannot write the ONNX file /proc/m.onnx (No such file"),
    ("export", lambda f: [DEMO, "--torchscript", "/proc/m.ts"], "cannot write the TorchScript file /proc/m.ts"),
    ("preview", lambda f: [f["mp4"], f["out"] / "p.png", "--frame", "-1"], "--frame -1 is negative"),
    ("evaluate", lambda f: [DEMO, f["videos"], "--output", f["text"]], "a file stands in its folder path"),
]


@pytest.mark.parametrize(("command", "arguments", "text"), ONE_LINE_ERRORS,
                         ids=[f"{c}-{i}" for i, (c, _, _) in enumerate(ONE_LINE_ERRORS)])
def test_hostile_input_is_one_clear_line(capsys, tmp_path: Path, command: str, arguments, text: str) -> None:
    code, _, err = run_cli(capsys, command, *arguments(_files(tmp_path)))
    assert code == 1
    assert_one_line(err, command, text)


@pytest.mark.parametrize("argv", [["predict", DEMO, "x.npy", "--top", "0"], ["predict", DEMO, "x.npy", "--top", "-2"],
                                  ["evaluate", DEMO, "ds", "--batch-size", "0"]])
def test_counts_must_be_positive(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "is not positive; give 1 or more" in capsys.readouterr().err


def test_a_reference_checkpoint_whose_adjacency_matches_no_layout(tmp_path: Path) -> None:
    state = load_checkpoint(DEMO).model.state_dict()
    state["A"] = torch.rand_like(state["A"])
    torch.save(state, tmp_path / "reference.pt")
    with pytest.raises(CheckpointError, match="matches no registered layout, so it was not trained on"):
        load_checkpoint(tmp_path / "reference.pt", layout="openpose_coco_18")


def test_the_live_monitor_survives_an_unwritable_annotated_video(tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("x")
    monitor = Monitor(namespace="", record=tmp_path / "file" / "live.mp4", fps=30.0)
    image = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(48))
    monitor._on_image(image)
    monitor._on_image(image)
    assert "File exists" in monitor.record_error
    assert capsys.readouterr().out.count("recording stopped, recognition goes on") == 1
    monitor._on_action(ActionLabel(track_id=1, label="wave", confidence=0.9))
    assert monitor.labels_seen == 1


@pytest.mark.parametrize(("model", "classes", "text"), [
    ("text", "", "is not a PyTorch checkpoint (a file written by torch.save)"),
    ("missing", "", "missing.pt"),
    ("", "two", "2 class names"),
])
def test_live_checks_the_model_before_starting_anything(capsys, monkeypatch, tmp_path: Path, video: Path,
                                                        model: str, classes: str, text: str) -> None:
    """A bad --model/--classes is one line before any node starts, and the annotated video of an
    earlier run is left as it was (H15: the graph started, action_node failed, the video was
    overwritten by the failed run's frames)."""
    monkeypatch.chdir(tmp_path)
    earlier = tmp_path / "dance_recognition_live.mp4"
    earlier.write_bytes(b"an earlier run's video")
    (tmp_path / "text.pt").write_text("hello\n")
    (tmp_path / "two.txt").write_text("a\nb\n")
    files = {"text": tmp_path / "text.pt", "missing": tmp_path / "missing.pt", "two": tmp_path / "two.txt", "": ""}
    code, out, err = run_cli(capsys, "live", "--input", video, "--model", files[model], "--classes", files[classes])
    assert code == 1
    assert_one_line(err, "live", text)
    assert "started" not in out
    assert earlier.read_bytes() == b"an earlier run's video"


def test_the_live_summary_says_why_no_label_arrived() -> None:
    """H14: "0 action labels received" and nothing else, while pose_node had dropped 81 of 90
    images on a loaded machine: the summary now gives the nodes' last /diagnostics."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    from dance_recognition.ros.launcher import why_no_labels

    def status(node: str, **values) -> DiagnosticStatus:
        return DiagnosticStatus(name=f"{node}: task", hardware_id=node,
                                values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])

    monitor = Monitor(namespace="robot1", record=None, fps=30.0)
    assert why_no_labels(monitor) == ": no report from pose_node arrived (see its log above)"
    monitor._on_diagnostics(DiagnosticArray(status=[
        status("/robot1/pose_node", total=9, dropped=81), status("/robot1/action_node", skeletons_received=9,
                                                                 frames_for_a_label=48),
        status("/robot2/pose_node", total=500, dropped=0)]))  # another graph's node: not ours
    assert why_no_labels(monitor) == (
        ": pose_node estimated poses on 9 of 90 images (81 dropped while it was busy: this machine is too slow or "
        "too loaded for the input's frame rate); action_node received 9 skeleton messages and needs 48 frames of a "
        "person for a label")
    monitor._on_action(ActionLabel(track_id=1, label="wave", confidence=0.9))
    assert why_no_labels(monitor) == ""


def test_evaluate_refuses_nan_like_train(capsys, tmp_path: Path) -> None:
    classes = load_checkpoint(DEMO).card.classes
    with DatasetWriter(tmp_path / "ds", "openpose_coco_18", classes, frames=8) as writer:
        for label in range(len(classes)):
            writer.add(np.ones((3, 8, 18, 1), np.float32), SampleInfo(label=label, split="val", image_size=(64, 64)))
    shard = next((tmp_path / "ds" / "shards").glob("*.npy"))
    array = np.load(shard)
    array[0, 0, 0, 0, 0] = np.nan
    np.save(shard, array)
    code, _, err = run_cli(capsys, "evaluate", DEMO, tmp_path / "ds", "--output", tmp_path / "report")
    assert code == 1
    assert_one_line(err, "evaluate", "holds NaN or inf")


def test_errors_live_in_errors_py_not_in_the_cli() -> None:
    """Commands and the core import their error types from errors.py (cli.py only re-exports)."""
    package = Path(__file__).resolve().parents[1] / "dance_recognition"
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py")
                 if "from dance_recognition.cli import" in p.read_text()]
    assert offenders == []


def test_preview_frame_past_the_end_is_an_error(capsys, tmp_path: Path, video: Path) -> None:
    code, out, err = run_cli(capsys, "preview", video, tmp_path / "frame.png", "--frame", 5000)
    assert code == 1 and "wrote" not in out and not (tmp_path / "frame.png").exists()
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("dance-recognition preview: error: --frame 5000 is past the end of"), err


def test_progress_bars_are_log_friendly_when_stderr_is_not_a_terminal(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("TQDM_MININTERVAL", raising=False)
    run_cli(capsys, "predict", DEMO, tmp_path / "missing.npy")  # stderr is captured: not a terminal
    assert os.environ["TQDM_MININTERVAL"] == "30"
