"""``--classes FILE`` names the outputs of any checkpoint in predict, evaluate, export and live."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reference_checkpoints import write_reference_checkpoint

from dance_recognition.class_names import ClassNamesError, describe_difference, read_class_names
from dance_recognition.data.dataset import SkeletonDataset
from dance_recognition.data.synthetic import MOVES, write_synthetic_dataset
from dance_recognition.ros.graph import LiveArguments, live_graph

KINETICS_LABELS = Path(__file__).resolve().parents[2] / "shared" / "data" / "kinetics400_labels.txt"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dance_recognition.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("names")
    dataset = write_synthetic_dataset(folder / "moves", samples_per_class=4, frames=16, seed=4)
    write_reference_checkpoint(folder / "st_gcn.five.pt", classes=len(MOVES))
    (folder / "moves.txt").write_text("\n".join(MOVES) + "\n")
    (folder / "three.txt").write_text("a\nb\nc\n")
    sample, _ = SkeletonDataset(dataset)[0]
    np.save(folder / "sample.npy", sample)
    return {"dataset": dataset, "checkpoint": folder / "st_gcn.five.pt", "names": folder / "moves.txt",
            "three": folder / "three.txt", "sample": folder / "sample.npy", "folder": folder}


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines, result.stdout[-2000:]
    return lines[-1]


def test_evaluate_needs_and_takes_the_names_of_a_reference_checkpoint(files) -> None:
    unnamed = _cli("evaluate", files["checkpoint"], files["dataset"], "--output", files["folder"] / "e0")
    line = _last_line(unnamed)
    assert unnamed.returncode == 1 and "Traceback" not in unnamed.stderr
    assert line.startswith("dance-recognition evaluate: error: class mismatch") and len(line) < 300
    assert "first difference at class 0: 'class_0' vs 'wave'" in line and "--classes FILE" in line
    named = _cli("evaluate", files["checkpoint"], files["dataset"], "--classes", files["names"],
                 "--output", files["folder"] / "e1")
    assert named.returncode == 0, named.stderr[-2000:]
    report = json.loads((files["folder"] / "e1" / "report.json").read_text())
    assert list(report["per_class"]) == list(MOVES)


def test_predict_and_export_print_and_store_the_given_names(files) -> None:
    plain = _cli("predict", files["checkpoint"], files["sample"], "--image-size", "640", "480", "--top", "5")
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "class_" in plain.stdout
    named = _cli("predict", files["checkpoint"], files["sample"], "--image-size", "640", "480", "--top", "5",
                 "--classes", files["names"])
    assert named.returncode == 0, named.stderr[-2000:]
    listed = named.stdout.strip().split("(", 1)[1].rstrip(")")  # ANSWER  (class p%, ...)
    assert {part.rsplit(" ", 1)[0] for part in listed.split(", ")} == set(MOVES)
    wrong = _cli("predict", files["checkpoint"], files["sample"], "--classes", files["three"])
    assert wrong.returncode == 1 and "has 5 classes (fcn.weight), but 3 class names were given" in _last_line(wrong)
    onnx_path, ts_path = files["folder"] / "m.onnx", files["folder"] / "m.ts"
    export = _cli("export", files["checkpoint"], "--onnx", onnx_path, "--torchscript", ts_path,
                  "--classes", files["names"])
    assert export.returncode == 0, export.stderr[-2000:]
    import onnx
    import torch

    metadata = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert json.loads(metadata["classes"]) == list(MOVES)
    extra = {"classes.txt": ""}
    torch.jit.load(str(ts_path), _extra_files=extra)
    assert extra["classes.txt"].decode().split() == list(MOVES)


@pytest.mark.skipif(not KINETICS_LABELS.is_file(), reason=f"{KINETICS_LABELS} (shared test data) is absent")
def test_kinetics_label_file_names_a_400_class_checkpoint(tmp_path) -> None:
    from dance_recognition.models.classifier import ActionClassifier

    write_reference_checkpoint(tmp_path / "st_gcn.kinetics.pt", classes=400)
    names = read_class_names(KINETICS_LABELS)
    classifier = ActionClassifier(tmp_path / "st_gcn.kinetics.pt", classes=names)
    assert classifier.classes[0] == "abseiling" and len(classifier.classes) == 400


def test_class_name_files_and_mismatches_are_one_short_line(tmp_path) -> None:
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "twice.txt").write_text("salsa\ntango\nsalsa\n")
    with pytest.raises(ClassNamesError, match="holds no class names"):
        read_class_names(tmp_path / "empty.txt")
    with pytest.raises(ClassNamesError, match="names a class twice: salsa"):
        read_class_names(tmp_path / "twice.txt")
    with pytest.raises(ClassNamesError, match="is a folder"):
        read_class_names(tmp_path)
    many = [f"k{i}" for i in range(400)]
    assert describe_difference(many, many[:5]) == "400 classes vs 5"
    assert describe_difference(many, [*many[:3], "x", *many[4:]]) == "first difference at class 3: 'k3' vs 'x'"


def test_live_passes_the_class_file_to_the_action_node() -> None:
    specs = {spec.name: spec for spec in live_graph(LiveArguments(model="k.pt", classes="kinetics400_labels.txt"))}
    assert specs["action_node"].parameters["classes_file"] == "kinetics400_labels.txt"
    assert "classes_file" not in {spec.name: spec for spec in live_graph(LiveArguments())}["action_node"].parameters
