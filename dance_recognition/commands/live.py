"""`dance-recognition live`: run the live graph (camera -> pose -> action) as separate processes.

The same nodes and parameters as ``ros2 launch dance_recognition live.launch.py``. With no
arguments: a webcam if one is present, otherwise the demo video fetched at set-up, the packaged
demo model, recognised actions printed as they arrive, and an annotated video written.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dance_recognition.commands.record import add_split_arguments, check_split_arguments

DEMO_VIDEO = "demo.mp4"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("live", help="run live recognition (camera/video -> pose -> actions)",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="", help="webcam index, /dev/videoN or a video file "
                                                    "(default: webcam 0 if present, else the demo video)")
    parser.add_argument("--backend", default="", help="pose backend: mediapipe (default) or openpose")
    parser.add_argument("--model", default="", help="action model checkpoint (default: the demo model)")
    parser.add_argument("--classes", default="", metavar="FILE",
                        help="class names of the model, one a line (reference checkpoints carry none)")
    parser.add_argument("--device", default="", help="model device: cpu, cuda, auto")
    parser.add_argument("--namespace", default="", help="ROS namespace of the nodes and topics")
    parser.add_argument("--params-file", default="", help="a node parameters YAML; it overrides only what it names "
                                                           "(template: share/dance_recognition/config/live.yaml)")
    parser.add_argument("--loop", action="store_true", help="replay a video file forever")
    parser.add_argument("--playback", default="", choices=("", "native", "fast"), help="video file pacing")
    parser.add_argument("--reaction", action="store_true", help="also start the example robot reaction node")
    parser.add_argument("--annotated-video", type=Path, help="write image_annotated to this video "
                                                             "(default for file inputs: dance_recognition_live.mp4)")
    parser.add_argument("--no-annotated-video", action="store_true", help="do not write an annotated video")
    parser.add_argument("--record", default="", metavar="BAG",
                        help="also record the session into this rosbag2 bag (recorder_node, as `record`)")
    parser.add_argument("--record-images", choices=("raw", "jpeg"), help="with --record: also the camera images")
    add_split_arguments(parser, prefix="record-")
    parser.add_argument("--no-camera", action="store_true",
                        help="start no camera_node: take images from --image-topic (a camera driver, a bag)")
    parser.add_argument("--image-topic", default="", help="image topic of the graph (default: image_raw)")
    parser.add_argument("--use-sim-time", action="store_true", help="every node on /clock time (bags, simulators)")
    parser.add_argument("--keep-going", action="store_true",
                        help="a node that dies does not end the graph (default: it does, with exit code 1)")
    parser.add_argument("--keep-running", action="store_true",
                        help="keep the graph running after a video played once (default: it ends after draining)")
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: never)")
    parser.set_defaults(handler=_live)


def _default_input() -> str:
    from dance_recognition.errors import UserError
    from dance_recognition.live.frame_source import webcam_available
    from dance_recognition.ros.graph import media_file

    if webcam_available(0):
        print("[live] input: webcam 0")
        return "0"
    demo = media_file(DEMO_VIDEO)
    if demo is None:
        raise UserError("no webcam found and the demo video is missing: run scripts/setup.sh (it fetches it), "
                        "or pass --input VIDEO")
    print(f"[live] input: no webcam found, playing the demo video {demo} (sports2d 0.8.34 demo, BSD-3-Clause)")
    return str(demo)


def check_model(model: str, classes: str) -> None:
    """Loads the action checkpoint with its classes file as action_node will: a bad file is one
    clear line before any node starts (or any earlier annotated video is overwritten)."""
    from dance_recognition.class_names import read_class_names
    from dance_recognition.models.checkpoint import load_checkpoint
    from dance_recognition.ros.nodes.action_node import default_checkpoint

    names = read_class_names(classes) if classes else None
    load_checkpoint(model or default_checkpoint(), classes=names, warn_unnamed=False)


def _check_model_apart(model: str, classes: str) -> None:
    """``check_model`` in a short-lived process: the launcher runs for hours and should not keep
    torch (a few hundred MB) resident for a check made once."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(check_model, model, classes).result()


def _live(args: argparse.Namespace) -> int:
    from dance_recognition.errors import UserError
    from dance_recognition.files import check_output_file
    from dance_recognition.live.frame_source import is_device
    from dance_recognition.media.video import VideoError, VideoReader
    from dance_recognition.ros.graph import LiveArguments
    from dance_recognition.ros.launcher import run_live

    if args.duration < 0:
        raise UserError(f"--duration {args.duration:g} is negative; give seconds to run, or 0 to run until stopped")
    if args.no_camera and args.input:
        raise UserError("--input and --no-camera exclude each other: without a camera the images come from "
                        "--image-topic")
    source = "" if args.no_camera else args.input or _default_input()
    fps, record = 30.0, None
    if source and not is_device(source):
        if not Path(source).is_file():
            raise UserError(f"input {source} is neither a webcam nor an existing video file")
        try:
            with VideoReader(source) as reader:
                fps = reader.fps
        except VideoError as error:
            raise UserError(str(error)) from None
        record = Path("dance_recognition_live.mp4")
    if args.annotated_video is not None:
        record = args.annotated_video
    if args.no_annotated_video:
        record = None
    if record is not None:
        check_output_file(record, "annotated video", inputs=[source] if source and not is_device(source) else [])
    if args.record and Path(args.record).exists():
        raise UserError(f"{args.record} exists already; a bag is never overwritten: choose another name")
    if (args.record_images or args.record_max_bag_size or args.record_max_bag_duration) and not args.record:
        raise UserError("--record-images / --record-max-bag-size / --record-max-bag-duration need --record BAG")
    check_split_arguments(args.record_max_bag_size, args.record_max_bag_duration)
    if args.model or args.classes:  # the packaged demo model needs no check
        _check_model_apart(args.model, args.classes)
    arguments = LiveArguments(input=source, backend=args.backend, model=args.model, classes=args.classes,
                              device=args.device,
                              namespace=args.namespace, params_file=args.params_file,
                              loop="true" if args.loop else "", playback=args.playback, reaction=args.reaction,
                              record=args.record, record_images=args.record_images or "",
                              record_max_bag_size=str(args.record_max_bag_size or ""),
                              record_max_bag_duration=f"{args.record_max_bag_duration:g}"
                              if args.record_max_bag_duration else "",
                              camera=not args.no_camera, image_topic=args.image_topic,
                              use_sim_time=args.use_sim_time, required=not args.keep_going,
                              end_with_input=not args.keep_running)
    return run_live(arguments, record=record, fps=fps, duration_s=args.duration)
