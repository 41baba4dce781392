"""`dance-recognition import-dataset`: reference-format or Kinetics-skeleton data -> a dataset."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import-dataset", help="import skeleton data of the ST-GCN reference formats")
    formats = parser.add_subparsers(dest="format", required=True)
    reference = formats.add_parser("reference", help="{train,val}_data_joint.npy + {train,val}_label.pkl")
    reference.add_argument("folder", type=Path)
    reference.add_argument("output", type=Path)
    reference.add_argument("--classes", type=Path, help="class names, one a line, in label order")
    reference.add_argument("--layout", help="keypoint layout (default: from the joint count)")
    reference.set_defaults(handler=_reference)
    kinetics = formats.add_parser("kinetics", help="a folder of Kinetics-skeleton JSON clips + its label file")
    kinetics.add_argument("folder", type=Path)
    kinetics.add_argument("label_file", type=Path, help="e.g. kinetics_train_label.json")
    kinetics.add_argument("output", type=Path)
    kinetics.add_argument("--split", default="train", choices=("train", "val", "test"))
    kinetics.add_argument("--append", action="store_true", help="add to an existing dataset (e.g. the val split)")
    kinetics.add_argument("--classes", type=Path, help="class names, one a line, in label_index order")
    kinetics.add_argument("--frames", type=int, default=300)
    kinetics.add_argument("--persons", type=int, default=2)
    kinetics.set_defaults(handler=_kinetics)


def _reference(args: argparse.Namespace) -> int:
    from dance_recognition.class_names import read_class_names
    from dance_recognition.data.importers import import_reference

    count = import_reference(args.folder, args.output, read_class_names(args.classes), args.layout)
    print(f"imported {count} samples into {args.output}")
    return 0


def _kinetics(args: argparse.Namespace) -> int:
    from dance_recognition.class_names import read_class_names
    from dance_recognition.data.importers import import_kinetics

    count, skipped = import_kinetics(args.folder, args.label_file, args.output, read_class_names(args.classes),
                                     split=args.split, frames=args.frames, persons=args.persons, append=args.append)
    print(f"imported {count} clips into {args.output} ({args.split})")
    for reason in skipped:
        print(f"  skipped {reason}")
    return 0
