"""Fine-tuning from a package or reference checkpoint: what arrives, what is new, what stays frozen."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from reference_checkpoints import SMALL_CHANNELS, write_reference_checkpoint

from dance_recognition.data.synthetic import write_synthetic_dataset
from dance_recognition.models.checkpoint import load_checkpoint
from dance_recognition.training.config import ConfigError, load_config
from dance_recognition.training.finetune import summarise_keys
from dance_recognition.training.trainer import train

SMALL_NET = {"channels": SMALL_CHANNELS}
SMALL_HEAD = SMALL_CHANNELS[-1]
FAST = ["batch_size=16", "model.dropout=0.0", "augment.mirror=0", "optim.lr=0.05"]
_reference_checkpoint = write_reference_checkpoint


@pytest.fixture(scope="module")
def moves(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("ft") / "moves", samples_per_class=12, frames=24, seed=2)


def test_frozen_backbone_arrives_unchanged_and_only_the_new_head_learns(moves, tmp_path, capsys) -> None:
    reference = _reference_checkpoint(tmp_path / "st_gcn.small.pt")
    config = load_config(None, [*FAST, "epochs=2", f"finetune.init_from={tmp_path / 'st_gcn.small.pt'}",
                                "finetune.freeze_backbone_epochs=2"])
    result = train(moves, tmp_path / "run", config, show_progress=False)
    trained = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["state_dict"]
    backbone = [k for k in reference if not k.startswith("fcn.")]
    assert len(backbone) > 50
    for key in backbone:  # weights AND BatchNorm statistics: freezing really freezes
        assert torch.equal(trained[key], reference[key]), key
    assert trained["fcn.weight"].shape == (5, SMALL_HEAD, 1, 1)
    assert reference["fcn.weight"].shape == (7, SMALL_HEAD, 1, 1)
    assert all(h["backbone_frozen"] for h in result.history)
    card = load_checkpoint(tmp_path / "run" / "last.pt").card
    assert card.config.channels == tuple(SMALL_NET["channels"]) and card.normalization == "kinetics"  # the checkpoint's
    printed = capsys.readouterr().out
    assert "fine-tuning from" in printed
    assert "re-initialised fcn.weight, fcn.bias: the classes differ (7 unnamed -> 5)" in printed
    report = json.loads((tmp_path / "run" / "init_report.json").read_text())
    assert set(report["loaded"]) == set(backbone) - {"A"} and report["skipped"] == {}


def test_fine_tuning_trains_the_backbone_after_the_frozen_epochs_and_improves(moves, tmp_path) -> None:
    reference = _reference_checkpoint(tmp_path / "ref.pt")
    config = load_config(None, [*FAST, "epochs=5", f"finetune.init_from={tmp_path / 'ref.pt'}",
                                "finetune.freeze_backbone_epochs=1", "optim.lr=0.05", "finetune.head_lr=0.1",
                                "data.normalization=body_centred"])
    result = train(moves, tmp_path / "run", config, show_progress=False)
    assert [h.get("backbone_frozen", False) for h in result.history] == [True] + [False] * 4
    assert result.history[0]["head_lr"] == pytest.approx(2 * result.history[0]["lr"])
    trained = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["state_dict"]
    assert not torch.equal(trained["st_gcn_networks.1.tcn.2.weight"], reference["st_gcn_networks.1.tcn.2.weight"])
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0] - 0.05, losses


def test_package_checkpoint_keeps_its_head_when_the_classes_agree_and_resume_works(moves, tmp_path) -> None:
    from dance_recognition.training.trainer import TrainingInterruptedError

    first = train(moves, tmp_path / "a", load_config(None, [*FAST, "epochs=1", "model.channels=[16,16]",
                                                             "model.strides=[1,2]"]), show_progress=False)
    config = load_config(None, [*FAST, "epochs=2", f"finetune.init_from={first.best_checkpoint}"])

    def interrupt(record: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(TrainingInterruptedError):
        train(moves, tmp_path / "b", config, show_progress=False, on_epoch=interrupt)
    report = json.loads((tmp_path / "b" / "init_report.json").read_text())
    assert "fcn.weight" in report["loaded"] and report["reinitialised"] == {}
    resumed = train(moves, tmp_path / "b", config, resume=True, show_progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert load_checkpoint(resumed.best_checkpoint).card.config.channels == (16, 16)


def test_mediapipe_dataset_fine_tunes_coco_weights_through_the_layout_conversion(tmp_path) -> None:
    from dance_recognition.data.dataset import DatasetWriter, SampleInfo, SkeletonDataset

    source = SkeletonDataset(write_synthetic_dataset(tmp_path / "coco", samples_per_class=4, frames=16, seed=1,
                                                     moves=("wave", "squat")))
    with DatasetWriter(tmp_path / "mp", "mediapipe_pose_33", source.class_names, frames=16) as writer:
        for index in range(len(source)):
            array, label = source[index]
            mp = _coco_to_mediapipe(array)
            writer.add(mp, SampleInfo(label=label, split=source.samples[index].split, image_size=(640, 480)))
    reference = _reference_checkpoint(tmp_path / "ref.pt")
    result = train(tmp_path / "mp", tmp_path / "run", load_config(
        None, [*FAST, "epochs=1", f"finetune.init_from={tmp_path / 'ref.pt'}", "finetune.freeze_backbone_epochs=1"]),
        show_progress=False)
    card = load_checkpoint(result.best_checkpoint).card
    assert card.config.layout == "openpose_coco_18"
    trained = torch.load(result.best_checkpoint, weights_only=True)["state_dict"]
    assert torch.equal(trained["data_bn.weight"], reference["data_bn.weight"])


def _coco_to_mediapipe(array):
    """(3, T, 18, 1) COCO-18 pixels -> (3, T, 33, 1) MediaPipe-33 by joint name (no neck in MediaPipe)."""
    import numpy as np

    from dance_recognition.skeleton.layouts import get_layout

    coco, mp = get_layout("openpose_coco_18"), get_layout("mediapipe_pose_33")
    out = np.zeros((3, array.shape[1], 33, 1), np.float32)
    for index, name in enumerate(mp.joint_names):
        if name in coco.joint_names:
            out[:, :, index] = array[:, :, coco.index(name)]
    return out


def test_bad_fine_tuning_settings_are_one_line_errors(moves, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"freeze_backbone_epochs needs finetune\.init_from"):
        train(moves, tmp_path / "a", load_config(None, ["finetune.freeze_backbone_epochs=2"]))
    with pytest.raises(ConfigError, match=r"init_from: checkpoint .* does not exist"):
        train(moves, tmp_path / "b", load_config(None, [f"finetune.init_from={tmp_path / 'none.pt'}"]))
    with pytest.raises(ConfigError, match="head_lr must be"):
        load_config(None, ["finetune.head_lr=-1"])


def test_cli_init_from_prints_the_report(moves, tmp_path) -> None:
    _reference_checkpoint(tmp_path / "ref.pt")
    result = subprocess.run([sys.executable, "-m", "dance_recognition.cli", "train", str(moves), str(tmp_path / "r"),
                             "--init-from", str(tmp_path / "ref.pt"), "--set", "epochs=1", "--set", "batch_size=16"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loaded" in result.stdout and "st_gcn_networks.0-9" in result.stdout


def test_key_summary_is_readable() -> None:
    keys = [f"st_gcn_networks.{i}.tcn.2.weight" for i in range(10)] + ["data_bn.weight", "data_bn.bias"]
    assert summarise_keys(keys) == "data_bn, st_gcn_networks.0-9"
