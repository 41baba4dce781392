"""Few-shot evidence: fine-tuning (`--init-from`) against training from scratch on a few takes.

    nice .venv/bin/python benchmarks/few_shot.py [--takes 5 20] [--epochs 15] [--seed 0]

1. Pretrains a small ST-GCN on six generated classes (wave, raise_arms, squat, arm_circles, march,
   standing; 40 performances each).
2. For each number of takes K, builds a dataset of four HELD-OUT moves the pretrained model never
   saw (side_step, spin, clap_overhead, jumping_jack) with K training takes per move and the same
   20 validation takes per move for every K (the K=5 takes are the first 5 of the K=20 ones).
3. Trains on those takes twice with the same settings, epochs and seed: once starting from the
   pretrained weights (``finetune.init_from``, new head) and once from random weights, and prints
   the validation top-1 of each (the better epoch's, as best.pt is chosen).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.data.dataset import DatasetWriter, SampleInfo
from dance_recognition.data.synthetic import generate_move, write_synthetic_dataset
from dance_recognition.skeleton.layouts import OPENPOSE_COCO_18
from dance_recognition.training.config import load_config
from dance_recognition.training.trainer import train

PRETRAIN_MOVES = ("wave", "raise_arms", "squat", "arm_circles", "march", "standing")
HELD_OUT_MOVES = ("side_step", "spin", "clap_overhead", "jumping_jack")
NETWORK = ["model.channels=[16,16,32,32]", "model.strides=[1,1,2,1]", "model.dropout=0.1", "device=cpu"]
FRAMES, VAL_TAKES, IMAGE = 32, 20, (640, 480)


def held_out_dataset(root: Path, takes: int, max_takes: int, seed: int) -> Path:
    """K train takes (the first K of ``max_takes``) and fixed validation takes per held-out move."""
    val_rng, train_rng = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 2])
    with DatasetWriter(root, OPENPOSE_COCO_18.name, list(HELD_OUT_MOVES), frames=FRAMES) as writer:
        for label, move in enumerate(HELD_OUT_MOVES):
            for index in range(VAL_TAKES):
                keypoints = generate_move(move, FRAMES, val_rng, IMAGE, variation=True)
                _add(writer, keypoints, label, "val", f"{move}:val{index}")
            performances = [generate_move(move, FRAMES, train_rng, IMAGE, variation=True) for _ in range(max_takes)]
            for index, keypoints in enumerate(performances[:takes]):
                _add(writer, keypoints, label, "train", f"{move}:take{index}")
    return root


def _add(writer: DatasetWriter, keypoints: np.ndarray, label: int, split: str, source: str) -> None:
    writer.add(keypoints.transpose(2, 0, 1)[..., None], SampleInfo(label=label, split=split, source=source,
                                                                   image_size=IMAGE, num_frames=FRAMES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--epochs", type=int, default=15, help="epochs of every few-shot run")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        base = write_synthetic_dataset(folder / "base", samples_per_class=40, frames=FRAMES, moves=PRETRAIN_MOVES,
                                       seed=args.seed + 100, variation=True)
        pretrained = train(base, folder / "pretrain", load_config(None, [
            *NETWORK, f"epochs={args.pretrain_epochs}", "batch_size=16", "optim.lr=0.05", f"seed={args.seed}"]),
            show_progress=False)
        print(f"pretrained on {len(PRETRAIN_MOVES)} generated classes: val top-1 {pretrained.report['top1']:.1%}")
        settings = [*NETWORK, f"epochs={args.epochs}", "batch_size=8", "optim.lr=0.02", f"seed={args.seed}"]
        rows = []
        for takes in args.takes:
            dataset = held_out_dataset(folder / f"k{takes}", takes, max(args.takes), args.seed)
            scores = {}
            for name, extra in (("init-from", [f"finetune.init_from={pretrained.best_checkpoint}"]),
                                ("scratch", [])):
                torch.manual_seed(args.seed)
                result = train(dataset, folder / f"k{takes}-{name}", load_config(None, [*settings, *extra]),
                               show_progress=False)
                scores[name] = result.report["top1"]
            rows.append((takes, scores["init-from"], scores["scratch"]))
    print(f"\nheld-out moves: {', '.join(HELD_OUT_MOVES)} (chance {1 / len(HELD_OUT_MOVES):.0%}); "
          f"{VAL_TAKES} validation takes each; {args.epochs} epochs, seed {args.seed}")
    print(f"{'takes/class':>11}  {'--init-from':>11}  {'scratch':>8}  {'difference':>10}")
    for takes, tuned, scratch in rows:
        print(f"{takes:>11}  {tuned:>11.1%}  {scratch:>8.1%}  {100 * (tuned - scratch):>+9.1f} pt")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
