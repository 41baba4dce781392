"""`dance-recognition evaluate`: a checkpoint on a dataset split -> report.json + confusion_matrix.png."""
from __future__ import annotations

import argparse
from pathlib import Path

from dance_recognition.commands import add_classes_argument, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a checkpoint on a dataset split")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="val", help="train, val, test or all (default val)")
    parser.add_argument("--output", type=Path, help="folder for report.json and confusion_matrix.png "
                                                    "(default: <checkpoint>_eval_<split>)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=positive_int, default=64)
    add_classes_argument(parser)
    parser.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from dance_recognition.class_names import describe_difference, read_class_names
    from dance_recognition.data.dataset import SkeletonDataset
    from dance_recognition.errors import UserError
    from dance_recognition.files import check_output_file
    from dance_recognition.models.checkpoint import load_checkpoint
    from dance_recognition.models.device import resolve_device
    from dance_recognition.training.evaluation import (
        classification_report,
        predict_logits,
        recall_summary,
        write_report,
    )
    from dance_recognition.training.samples import TrainingSamples

    output = args.output or args.checkpoint.parent / f"{args.checkpoint.stem}_eval_{args.split}"
    check_output_file(output / "report.json", "evaluation report")  # before the work, not after it
    device = resolve_device(args.device)
    loaded = load_checkpoint(args.checkpoint, device=device, classes=read_class_names(args.classes))
    dataset = SkeletonDataset(args.dataset)
    dataset.check_values()  # as train does: a NaN would score as a silent wrong class
    card = loaded.card
    if list(card.classes) != list(dataset.class_names):
        hint = " (name them with --classes FILE)" if card.source == "reference" and args.classes is None else ""
        raise UserError(f"class mismatch: {args.checkpoint} predicts other classes than {args.dataset} is labelled "
                        f"with ({describe_difference(card.classes, dataset.class_names)}){hint}")
    indices = dataset.indices(None if args.split == "all" else args.split)
    if len(indices) == 0:
        raise UserError(f"{args.dataset} has no samples in split {args.split!r}")
    spec = card.input_spec()
    loader = torch.utils.data.DataLoader(TrainingSamples(dataset, indices, spec), batch_size=args.batch_size)
    logits, labels = predict_logits(loaded.model, loader, device, progress=True)
    report = classification_report(logits, labels, dataset.class_names)
    report["checkpoint"], report["dataset"], report["split"] = str(args.checkpoint), str(args.dataset), args.split
    json_path, png_path = write_report(report, output, f"{args.checkpoint.name} on {args.split}")
    print(f"top-1 {report['top1']:.1%}  top-{report['top5_k']} {report['top5']:.1%}  "
          f"{recall_summary(report)}  ({report['samples']} samples)")
    for name, metrics in report["per_class"].items():
        if not metrics["support"]:
            continue  # named in the summary line; 400 Kinetics classes must not print 400 empty lines
        print(f"  {name:<24} precision {metrics['precision']:.2f}  recall {metrics['recall']:.2f}  "
              f"n={metrics['support']}")
    print(f"report: {json_path}, {png_path}")
    return 0
