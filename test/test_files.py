"""One atomic writer for every file the package replaces: permissions from the umask, fsync,
no temporary file left behind (also after a process killed mid-write), umask never touched."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dance_recognition.data.dataset import DatasetWriter, SampleInfo
from dance_recognition.errors import DanceRecognitionError
from dance_recognition.files import atomic_write, check_output_file, current_umask


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dataset_index_and_shards_get_the_same_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with DatasetWriter(tmp_path / "ds", "openpose_coco_18", ["a"], frames=4) as writer:
            writer.add(np.ones((3, 4, 18, 1), np.float32), SampleInfo(label=0, split="train", source="v.mp4",
                                                                         image_size=(64, 48)))
    finally:
        os.umask(previous)
    shards = list((tmp_path / "ds" / "shards").glob("*.npy"))
    assert shards and {_mode(p) for p in shards} == {0o644}
    assert _mode(tmp_path / "ds" / "dataset.json") == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.pt"
    target.write_bytes(b"old")

    def fail(file) -> None:
        file.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]


def test_a_temporary_left_by_a_killed_writer_is_removed_by_the_next_save(tmp_path: Path) -> None:
    target = tmp_path / "training_state.pt"
    code = ("import os, sys; from dance_recognition.files import atomic_write; "
            "atomic_write(sys.argv[1], lambda f: (f.write(b'x' * 1000), f.flush(), os.kill(os.getpid(), 9)))")
    subprocess.run([sys.executable, "-c", code, str(target)], check=False, timeout=60)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".training_state.pt.")], "the kill left one"
    atomic_write(target, lambda f: f.write(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["training_state.pt"]
    assert target.read_bytes() == b"new"


def test_reading_the_umask_does_not_change_it(monkeypatch) -> None:
    expected = os.umask(0o027)
    os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("os.umask changes the mask for every thread"))
        assert current_umask() == 0o027
    finally:
        monkeypatch.undo()
        os.umask(expected)


@pytest.mark.parametrize(("make", "text"), [
    (lambda tmp: tmp, "is a folder; give a file name"),
    (lambda tmp: (tmp / "file.txt").write_text("x") and tmp / "file.txt" / "out.onnx", "a file stands in its folder"),
])
def test_output_files_that_cannot_be_written_are_one_line(tmp_path: Path, make, text: str) -> None:
    with pytest.raises(DanceRecognitionError, match=text):
        check_output_file(make(tmp_path), "ONNX file")
    assert check_output_file(tmp_path / "new" / "folder" / "m.onnx", "ONNX file").parent.is_dir()
