"""Hostile input to every command: one clear line naming the problem (exit 1), never a
traceback, and never a confident answer from no data. Run in-process through ``cli.main`` (the
same code the installed wrapper calls; the wrapper itself is tested in test_extract/test_live_nodes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import shared_data_dir
from openpose_model_files import write_model

from dance_recognition.cli import main
from dance_recognition.media.video import VideoReader, VideoWriter
from dance_recognition.pose.paf_grouping import PAF_MODELS
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
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data (or $DANCE_SHARED_DATA) is absent: no real footage to test on")
    return data / "videos" / "ta_chi.mp4"


def test_preview_and_predict_run_with_the_openpose_backend(capsys, tmp_path: Path, video: Path) -> None:
    """Generated OpenPose COCO Caffe files of the right shape (the real ones are not installable),
    seeing nobody: these commands used to crash on the estimator before any frame."""
    spec = PAF_MODELS["COCO"]
    prototxt, caffemodel, _ = write_model(tmp_path, spec.num_heatmaps, 2 * len(spec.limbs), sees_nobody=True)
    openpose = ["--backend", "openpose", "--model", "COCO", "--openpose-prototxt", prototxt,
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
