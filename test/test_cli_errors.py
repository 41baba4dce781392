"""Hostile input to every command: one clear line naming the problem (exit 1), never a
traceback, and never a confident answer from no data. Run in-process through ``cli.main`` (the
same code the installed wrapper calls; the wrapper itself is tested in test_extract/test_live_nodes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dance_recognition.cli import main
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
