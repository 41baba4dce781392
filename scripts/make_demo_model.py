"""Rebuilds dance_recognition/resources/demo_moves.pt, the default model of the live graph.

    .venv/bin/python scripts/make_demo_model.py [--output PATH]

Origin, stated honestly: no labelled dance data can be shipped with the package, so the demo model
is trained by this project's own trainer on GENERATED stick-figure moves
(dance_recognition.data.synthetic: wave, raise_arms, squat, arm_circles, march; COCO-18 layout,
body-centred normalisation, 48-frame window, one person). It shows the live graph working end
to end; it is not a model of real dance styles. Train your own with `extract` + `train`.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.data.synthetic import write_synthetic_dataset
from dance_recognition.models.checkpoint import load_checkpoint, save_checkpoint
from dance_recognition.training.config import load_config
from dance_recognition.training.trainer import train

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ["epochs=20", "batch_size=16", "seed=0", "model.channels=[32,32,64,64,128]", "model.strides=[1,1,2,1,2]",
            "optim.lr=0.05", "model.dropout=0.1", "device=cpu"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "dance_recognition" / "resources" / "demo_moves.pt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_synthetic_dataset(Path(folder) / "moves", samples_per_class=80, frames=48, seed=0)
        result = train(dataset, Path(folder) / "run", load_config(None, SETTINGS))
        loaded = load_checkpoint(result.best_checkpoint)
        loaded.card.extra = {
            "origin": "dance_recognition scripts/make_demo_model.py: trained on generated stick-figure moves "
                      "(dance_recognition.data.synthetic), not on real dance footage",
            "val_accuracy_on_generated_moves": result.report["top1"],
            "settings": " ".join(SETTINGS),
        }
        save_checkpoint(args.output, loaded.model, loaded.card)
        shutil.copy(Path(folder) / "run" / "confusion_matrix.png", args.output.with_suffix(".confusion.png"))
    print(f"wrote {args.output} (val top-1 on generated moves {result.report['top1']:.1%})")


if __name__ == "__main__":
    main()
