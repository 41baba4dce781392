"""`dance-recognition extract`: a folder of videos -> a skeleton dataset."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from dance_recognition.class_names import read_class_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract", help="run pose estimation over a folder of videos and write a training dataset",
        description="Labels come from sub-folder names (<class>/<video>), file names (<class>_<n>.mp4) or a CSV of "
                    "segments (video,start,end,label in seconds). Re-running with the same output resumes.")
    parser.add_argument("videos", type=Path, help="folder of videos (searched recursively)")
    parser.add_argument("output", type=Path, help="dataset folder to create or resume")
    parser.add_argument("--labels", choices=("folders", "filenames", "csv"), default="folders")
    parser.add_argument("--csv", type=Path, help="segments CSV for --labels csv")
    parser.add_argument("--classes", type=Path, help="class names, one a line (fixes their order; others are errors)")
    add_backend_arguments(parser)
    add_window_arguments(parser, WindowHelp(layout="the backend's own", clip="clip/segment", short="clips",
                                            persons="most confident first", person="main person"))
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of each class's VIDEOS for val")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument("--workers", type=int, default=1, help="videos processed in parallel")
    parser.add_argument("--preview", type=int, default=0, metavar="N",
                        help="also write annotated videos of the first N videos to <output>_preview/")
    parser.set_defaults(handler=_extract)


def add_backend_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="mediapipe", help="pose backend: mediapipe (default) or openpose")
    parser.add_argument("--pose-model", help="pose model variant: mediapipe lite/full/heavy; openpose COCO/BODY_25 "
                                             "(--model is an action model checkpoint, in live)")
    parser.add_argument("--openpose-prototxt", type=Path, help="openpose via OpenCV: the model's .prototxt")
    parser.add_argument("--openpose-caffemodel", type=Path, help="openpose via OpenCV: the model's .caffemodel")
    parser.add_argument("--openpose-folder", type=Path, help="openpose via pyopenpose: OpenPose's models/ folder")
    parser.add_argument("--num-poses", type=int, help="mediapipe: most people found per frame (default 4)")


@dataclass(frozen=True)
class WindowHelp:
    """The words that differ between ``extract`` (videos) and ``bag2dataset`` (bags) in the window options' help."""

    layout: str  # where keypoints come from by default
    clip: str  # what --whole-clips makes one sample of
    short: str  # what --pad pads
    persons: str  # how people fill a sample
    person: str  # whose presence --min-presence counts


def add_window_arguments(parser: argparse.ArgumentParser, words: WindowHelp) -> None:
    """How samples are cut from frames (``ExtractConfig``), the same options for ``extract`` and ``bag2dataset``."""
    parser.add_argument("--layout", help=f"convert keypoints to this layout (default: {words.layout})")
    parser.add_argument("--window", type=int, default=64, help="frames per sample (default 64)")
    parser.add_argument("--stride", type=int, default=32, help="frames between window starts (default 32)")
    parser.add_argument("--whole-clips", action="store_true", help=f"one sample per {words.clip}, fitted to --window")
    parser.add_argument("--pad", choices=("zeros", "repeat", "edge"), default="zeros", help=f"for short {words.short}")
    parser.add_argument("--persons", type=int, default=1, help=f"people per sample, {words.persons}")
    parser.add_argument("--min-presence", type=float, default=0.5,
                        help=f"skip windows whose {words.person} is seen in fewer than this share of frames")


def window_config(args: argparse.Namespace):
    """The ``ExtractConfig`` of the backend and window options (and --val-fraction, --seed)."""
    from dance_recognition.data.extract import ExtractConfig

    return ExtractConfig(backend=args.backend, backend_options=backend_options(args), layout=args.layout,
                         window=args.window, stride=args.stride, whole_clips=args.whole_clips, pad=args.pad,
                         persons=args.persons, min_presence=args.min_presence, val_fraction=args.val_fraction,
                         seed=args.seed)


def backend_options(args: argparse.Namespace) -> dict:
    from dance_recognition.pose.base import backend_options as options_of

    return options_of(args.backend, args.pose_model or "", args.openpose_prototxt or "", args.openpose_caffemodel or "",
                      args.openpose_folder or "", num_poses=getattr(args, "num_poses", None) or 0)


def _extract(args: argparse.Namespace) -> int:
    from dance_recognition.data.extract import extract, summary_json

    config = window_config(args)
    summary = extract(args.videos, args.output, config, labels=args.labels, csv_path=args.csv,
                      class_names=read_class_names(args.classes), workers=args.workers, preview=args.preview)
    for line in summary.lines():
        print(line)
    report = args.output.parent / f"{args.output.name}_summary.json"
    if args.output.exists():
        report.write_text(json.dumps(summary_json(summary), indent=1))
        print(f"summary: {report}")
    if summary.failed:
        print(f"dance-recognition extract: {len(summary.failed)} video(s) failed (listed above)")
        return 2
    return 0
