"""The README's own command examples, run as written (through the installed entry point) where
they can run here: their inputs are made in a scratch folder under the names the README uses."""
from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import installed_cli, shared_video

from dance_recognition.media.video import VideoReader, VideoWriter
from dance_recognition.ros.nodes.action_node import default_checkpoint

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = (  # the start of each README line that is run; the rest of the line is taken from the README
    ".venv/bin/dance-recognition extract videos/ datasets/moves --window 64 --stride 32 --workers 2",
    ".venv/bin/dance-recognition preview videos/salsa/1.mp4 salsa_1_pose.mp4",
    ".venv/bin/dance-recognition predict runs/moves/best.pt performance.mp4",
    ".venv/bin/dance-recognition export runs/moves/best.pt --onnx moves.onnx --torchscript moves.ts",
)


def readme_command(start: str) -> list[str]:
    """The README line beginning with ``start``, as arguments (a trailing # comment dropped)."""
    lines = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith(start)]
    assert lines, f"the README no longer shows: {start}"
    return shlex.split(lines[0], comments=True)


def _clip(source: Path, target: Path, start: int, frames: int = 40) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with VideoReader(source) as reader, VideoWriter(target, reader.fps, reader.declared_size) as writer:
        for index, image in enumerate(reader):
            if index >= start + frames:
                break
            if index >= start:
                writer.write(image)


@pytest.mark.slow
def test_readme_examples_run_as_written(tmp_path: Path) -> None:
    for label, name in (("salsa", "ta_chi.mp4"), ("lifting", "clean_and_jerk.mp4")):
        for number, start in ((1, 0), (2, 100)):
            _clip(shared_video(name), tmp_path / "videos" / label / f"{number}.mp4", start)
    shutil.copy(shared_video("ta_chi.mp4"), tmp_path / "performance.mp4")
    (tmp_path / "runs" / "moves").mkdir(parents=True)
    shutil.copy(default_checkpoint(), tmp_path / "runs" / "moves" / "best.pt")  # a trained model of this project
    outputs = {}
    for start in EXAMPLES:
        arguments = readme_command(start)
        assert arguments[0] == ".venv/bin/dance-recognition"
        result = subprocess.run([*installed_cli(), *arguments[1:]], cwd=tmp_path, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"{shlex.join(arguments)}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        assert "Traceback" not in result.stderr
        outputs[arguments[1]] = result.stdout
    assert "videos: 4 (4 ok, 0 failed" in outputs["extract"]
    assert len(list((tmp_path / "datasets" / "moves_preview").rglob("*.mp4"))) == 3  # --preview 3
    assert (tmp_path / "salsa_1_pose.mp4").stat().st_size > 0
    assert "whole video" in outputs["predict"] or "person" in outputs["predict"]
    assert (tmp_path / "moves.onnx").is_file() and (tmp_path / "moves.ts").is_file()
