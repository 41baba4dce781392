"""Rebuilds dance_recognition/resources/demo_moves.pt, the default model of the live graph.

    nice .venv/bin/python scripts/make_demo_model.py [--output PATH] [--samples 48] [--seed 0]

(about 25 minutes on the shared 2-core CPU machine, 20 epochs of 432 performances).

Origin, stated honestly: no labelled dance data can be shipped with the package, so the demo model
is trained by this project's own trainer on GENERATED stick-figure moves
(dance_recognition.data.synthetic): nine dance moves (wave, raise_arms, squat, arm_circles, march,
side_step, spin, clap_overhead, jumping_jack) and three ways of NOT dancing (standing, walking,
idle), which are its background classes: predict and the action node answer `unknown` for them
(dance_recognition.models.open_set). COCO-18 layout, body-centred normalisation, one person,
32-frame window, unpadded temporal convolutions (streamed exactly by the action node). It shows
the live graph working end to end and says "no move" for people who are not dancing; it is not a
model of real dance styles. Train your own with `extract` + `train`.

Beside the model it writes ``<output stem>.report.json`` (validation report on held-out generated
performances, with the command, settings and seed) and ``<output stem>.confusion.png``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dance_recognition.data.synthetic import ALL_MOVES, BACKGROUND_MOVES, write_synthetic_dataset
from dance_recognition.models.checkpoint import load_checkpoint, save_checkpoint
from dance_recognition.models.open_set import BACKGROUND_KEY
from dance_recognition.training.config import load_config
from dance_recognition.training.trainer import train

REPO = Path(__file__).resolve().parents[1]
# unpadded temporal convolutions: the action node streams it exactly (one step per frame, see
# models/streaming_classifier.py); receptive field 21 frames <= the 32-frame window
# 20 epochs of the [32,32,64,64] network: 95% val top-1 where 12 epochs of [16,16,32,32] gave 80% (underfit,
# under-confident: a replayed wave at 0.58, below reaction_node's min_confidence)
SETTINGS = ["epochs=20", "batch_size=16", "model.channels=[32,32,64,64]", "model.strides=[1,1,2,1]",
            "model.temporal_kernel=5", "model.temporal_padding=false", "optim.lr=0.05", "model.dropout=0.1",
            "device=cpu",
            f"data.background_classes=[{','.join(BACKGROUND_MOVES)}]"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "dance_recognition" / "resources" / "demo_moves.pt")
    parser.add_argument("--samples", type=int, default=48, help="generated performances per class (25%% val)")
    parser.add_argument("--frames", type=int, default=32, help="frames per performance = the model's window")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generator and of training")
    parser.add_argument("--set", dest="extra_settings", action="append", default=[], metavar="KEY=VALUE",
                        help="another training setting (e.g. model.temporal_padding=false)")
    args = parser.parse_args()
    settings = [*SETTINGS, f"seed={args.seed}", *args.extra_settings]
    command = " ".join(["scripts/make_demo_model.py", *sys.argv[1:]])
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_synthetic_dataset(Path(folder) / "moves", samples_per_class=args.samples, frames=args.frames,
                                          seed=args.seed, moves=tuple(ALL_MOVES), variation=True)
        result = train(dataset, Path(folder) / "run", load_config(None, settings))
        loaded = load_checkpoint(result.best_checkpoint)
        loaded.card.extra = {
            "origin": "dance_recognition scripts/make_demo_model.py: trained on generated stick-figure moves "
                      "(dance_recognition.data.synthetic), not on real dance footage",
            "val_accuracy_on_generated_moves": result.report["top1"],
            "settings": " ".join(settings),
            "command": command,
            BACKGROUND_KEY: list(BACKGROUND_MOVES),
        }
        save_checkpoint(args.output, loaded.model, loaded.card)
        shutil.copy(Path(folder) / "run" / "confusion_matrix.png", args.output.with_suffix(".confusion.png"))
        report = {"command": command, "settings": settings, "seed": args.seed, "samples_per_class": args.samples,
                  "frames": args.frames, "val_fraction": 0.25, "classes": list(ALL_MOVES),
                  BACKGROUND_KEY: list(BACKGROUND_MOVES), "history": result.history, "validation": result.report}
        args.output.with_suffix(".report.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {args.output} (val top-1 on generated moves {result.report['top1']:.1%}), "
          f"{args.output.with_suffix('.report.json').name}, {args.output.with_suffix('.confusion.png').name}")


if __name__ == "__main__":
    main()
