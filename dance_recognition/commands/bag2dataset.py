"""`dance-recognition bag2dataset`: rosbag2 bags (this package's or any robot's) -> a training dataset."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from dance_recognition.commands.extract import (
    WindowHelp,
    add_backend_arguments,
    add_window_arguments,
    read_class_names,
    window_config,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bag2dataset", help="turn rosbag2 bags into a training dataset (skeleton topic, or images + pose backend)",
        description="Frames come from the bag's dance_recognition/msg/Skeleton topic, or from the pose backend run "
                    "over its sensor_msgs/Image or CompressedImage topic. Labels come from --label (whole bags), "
                    "--csv (segments: bag,start,end,label[,track]) or the bag's LabelEvent topic. Re-running with "
                    "the same output resumes; --append adds bags to an existing dataset.")
    parser.add_argument("paths", type=Path, nargs="+", metavar="BAG... OUTPUT",
                        help="bag folders or .mcap/.db3 files, then the dataset folder to create, resume or append to")
    parser.add_argument("--label", default="", help="one class for every frame of every bag")
    parser.add_argument("--csv", type=Path, help="segments CSV: bag,start,end,label[,track] (seconds from the bag "
                                                 "start, or absolute stamps; empty end = to the end)")
    parser.add_argument("--classes", type=Path, help="class names, one a line (fixes their order; others are errors)")
    parser.add_argument("--skeleton-topic", default="", help="Skeleton topic (default: the bag's only one)")
    parser.add_argument("--image-topic", default="", help="run the pose backend over this Image/CompressedImage "
                                                          "topic, even when the bag has skeletons (default: a bag "
                                                          "without skeletons uses its only image topic)")
    parser.add_argument("--label-topic", default="", help="LabelEvent topic (default: the bag's only one)")
    add_backend_arguments(parser)
    add_window_arguments(parser, WindowHelp(layout="the bag's own", clip="label segment", short="segments",
                                            persons="1: a sample per performer (track id)", person="person"))
    parser.add_argument("--max-gap", type=float, default=1.0,
                        help="seconds between skeleton stamps that end a continuous stretch (default 1.0)")
    parser.add_argument("--split-by", choices=("take", "bag"), default="take",
                        help="unit kept whole in one split: a labelled segment (take) or a whole bag")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of each class's takes/bags for val")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument("--append", action="store_true", help="add to an existing dataset")
    parser.set_defaults(handler=_bag2dataset)


def _bag2dataset(args: argparse.Namespace) -> int:
    from dance_recognition.bags.convert import BagConversionConfig, bags_to_dataset, summary_json
    from dance_recognition.errors import UserError

    if len(args.paths) < 2:
        raise UserError("give at least one bag and the output dataset folder: bag2dataset BAG... OUTPUT")
    *bags, output = args.paths
    config = BagConversionConfig(windows=window_config(args), skeleton_topic=args.skeleton_topic,
                                 image_topic=args.image_topic, label_topic=args.label_topic, label=args.label,
                                 csv=args.csv, split_by=args.split_by, max_gap_s=args.max_gap)
    summary = bags_to_dataset(bags, output, config, class_names=read_class_names(args.classes), append=args.append)
    for line in summary.lines():
        print(line)
    if output.parent.is_dir():
        report = output.parent / f"{output.name}_summary.json"
        report.write_text(json.dumps(summary_json(summary), indent=1))
        print(f"summary: {report}")
    if summary.failed:
        print(f"dance-recognition bag2dataset: {len(summary.failed)} bag(s) failed (listed above)")
        return 2
    return 0
