"""Batched on-device augmentation (random_move, mirror), automatic loader workers, bf16 autocast."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dance_recognition.data.synthetic import generate_move
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
from dance_recognition.training.augmentation import mirror
from dance_recognition.training.batch_augmentation import BatchAugmenter, mirror_batch, random_move_batch
from dance_recognition.training.config import load_config
from dance_recognition.training.trainer import loader_workers


def _batch(samples: int = 6, frames: int = 20) -> torch.Tensor:
    rng = np.random.default_rng(0)
    data = [generate_move("wave", frames, rng, missing_rate=0.0).transpose(2, 0, 1)[..., None] for _ in range(samples)]
    x = torch.from_numpy(np.stack(data))
    x[:, :2] = (x[:, :2] - 300) / 100  # roughly body-sized coordinates
    x[:, :, 3, 5] = 0  # a missing joint in frame 3
    return x


def test_random_move_is_a_drifting_rotation_and_scale_that_keeps_missing_joints_at_zero() -> None:
    x = _batch()
    moved = random_move_batch(x, torch.Generator().manual_seed(1))
    assert (moved[:, :, 3, 5] == 0).all() and torch.equal(moved[:, 2], x[:, 2])
    assert not torch.allclose(moved[:, :2], x[:, :2])
    wrist, elbow, neck, hip = (OPENPOSE_COCO_18.index(n) for n in ("right_wrist", "right_elbow", "neck", "right_hip"))

    def distance(data, a, b):
        return torch.linalg.norm(data[:, :2, :, a] - data[:, :2, :, b], dim=1)[..., 0]

    ratio_a = distance(moved, wrist, elbow) / distance(x, wrist, elbow)
    ratio_b = distance(moved, neck, hip) / distance(x, neck, hip)
    assert torch.allclose(ratio_a, ratio_b, rtol=1e-4)  # one similarity transform per frame
    assert ratio_a.min() >= 0.9 - 1e-5 and ratio_a.max() <= 1.1 + 1e-5  # the reference's scale candidates


def test_batched_mirror_equals_the_per_sample_mirror() -> None:
    x = _batch()
    always = mirror_batch(x, OPENPOSE_COCO_18.name, 1.0, torch.Generator().manual_seed(0))
    expected = np.stack([mirror(sample.numpy(), OPENPOSE_COCO_18.name) for sample in x])
    np.testing.assert_allclose(always.numpy(), expected)
    assert torch.equal(mirror_batch(x, OPENPOSE_COCO_18.name, 0.0, torch.Generator()), x)


def test_augmenter_repeats_itself_for_the_same_seed_epoch_and_batch() -> None:
    x = _batch()
    first, second = BatchAugmenter("openpose_coco_18", True, 0.5, seed=3), BatchAugmenter("openpose_coco_18", True,
                                                                                          0.5, seed=3)
    assert torch.equal(first(x, 4), second(x, 4))
    assert not torch.equal(first(x, 4), first(x, 5))
    second.set_epoch(1)
    assert not torch.equal(first(x, 4), second(x, 4))


def test_loader_workers_are_chosen_for_the_device() -> None:
    config = load_config(None, [])
    assert config.data.num_workers is None  # auto
    assert loader_workers(config, torch.device("cpu")) == 0
    assert 0 <= loader_workers(config, torch.device("cuda")) <= 8
    assert loader_workers(load_config(None, ["data.num_workers=3"]), torch.device("cpu")) == 3
    with pytest.raises(Exception, match="num_workers must be a whole number"):
        load_config(None, ["data.num_workers=many"])


def test_bf16_training_learns_like_fp32_on_the_cpu(tmp_path) -> None:
    """bf16 autocast changes rounding, not what is learnt: the same run in both precisions ends
    with close losses and validation accuracies (measured here: see the assertion margins)."""
    from dance_recognition.data.synthetic import write_synthetic_dataset
    from dance_recognition.training.trainer import train

    data = write_synthetic_dataset(tmp_path / "d", samples_per_class=10, frames=16, seed=3,
                                   moves=("wave", "squat", "raise_arms"))
    small = ["model.channels=[16,16]", "model.strides=[1,2]", "batch_size=8", "epochs=4", "optim.lr=0.05"]
    runs = {p: train(data, tmp_path / p, load_config(None, [*small, f"precision={p}"]), show_progress=False)
            for p in ("fp32", "bf16")}
    for fp32, bf16 in zip(runs["fp32"].history, runs["bf16"].history, strict=True):
        assert abs(fp32["train_loss"] - bf16["train_loss"]) < 0.15, (fp32, bf16)
    assert runs["bf16"].history[-1]["train_loss"] < runs["bf16"].history[0]["train_loss"]
    assert abs(runs["fp32"].report["top1"] - runs["bf16"].report["top1"]) <= 0.25
