"""`dance-recognition train`: train ST-GCN on a dataset (also under `torchrun` for several GPUs/hosts)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train an ST-GCN model on a skeleton dataset",
        description="Settings come from --config (YAML, see config/train_default.yaml) and --set overrides. "
                    "Data-parallel: torchrun --nproc_per_node N -m dance_recognition.cli train ...")
    parser.add_argument("dataset", type=Path, help="dataset folder (from extract or import-dataset)")
    parser.add_argument("output", type=Path, help="run folder: checkpoints, curves, report")
    parser.add_argument("--config", type=Path, help="YAML training config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. --set optim.lr=0.01 --set epochs=20")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: the config's, auto)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in OUTPUT with its own settings (--set epochs=N extends it, "
                             "--device moves it)")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT",
                        help="fine-tune: start from this checkpoint (ours or a published st_gcn.kinetics.pt / "
                             "st_gcn.ntu-xsub.pt); = --set finetune.init_from=CHECKPOINT")
    parser.set_defaults(handler=_train)


def _train(args: argparse.Namespace) -> int:
    from dance_recognition.errors import UserError
    from dance_recognition.training.config import load_config, load_run_config
    from dance_recognition.training.trainer import TrainingInterruptedError, train

    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    if args.resume:
        if args.config is not None or args.init_from is not None:
            raise UserError("--resume continues the run with its own settings: drop --config/--init-from "
                            "(only --set epochs=N and --device may change)")
        config = load_run_config(args.output, overrides)
    else:
        config = load_config(args.config, overrides)
    if args.init_from is not None:
        config.finetune.init_from = str(args.init_from)
    try:
        result = train(args.dataset, args.output, config, resume=args.resume)
    except TrainingInterruptedError as error:
        print(f"dance-recognition train: {error}")
        return 130
    if int(os.environ.get("RANK", "0")) != 0:
        return 0  # under torchrun, rank 0 reports
    if result.report:
        from dance_recognition.training.evaluation import recall_summary

        print(f"best model: {result.best_checkpoint} (val top-1 {result.report['top1']:.1%}, "
              f"top-{result.report['top5_k']} {result.report['top5']:.1%}, {recall_summary(result.report)})")
        print(f"report: {args.output / 'report.json'}, {args.output / 'confusion_matrix.png'}, "
              f"{args.output / 'curves.png'}")
    else:
        print(f"best model: {result.best_checkpoint}")
    return 0
