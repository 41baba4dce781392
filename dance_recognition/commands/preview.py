"""`dance-recognition preview`: a video with the detected skeletons drawn, to see what the pose
backend (and hence ``extract``) sees."""
from __future__ import annotations

import argparse
from pathlib import Path

from dance_recognition.commands.extract import add_backend_arguments, backend_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("preview", help="write an annotated video (or PNG of one frame) with skeletons")
    parser.add_argument("video", type=Path)
    parser.add_argument("output", type=Path, help=".mp4 for a video, .png for the frame given by --frame")
    parser.add_argument("--frame", type=int, default=0, help="frame index for a .png output")
    add_backend_arguments(parser)
    parser.set_defaults(handler=_preview)


def _preview(args: argparse.Namespace) -> int:
    import cv2
    from tqdm import tqdm

    from dance_recognition.errors import UserError
    from dance_recognition.files import check_output_file
    from dance_recognition.media.drawing import draw_pose_frame
    from dance_recognition.media.video import VideoReader, VideoWriter
    from dance_recognition.pose import create_estimator
    from dance_recognition.skeleton.tracking import PoseTracker

    if args.frame < 0:
        raise UserError(f"--frame {args.frame} is negative; give a frame index from 0")
    check_output_file(args.output, "preview", inputs=[args.video])
    tracker = PoseTracker()
    with VideoReader(args.video) as reader, create_estimator(args.backend, **backend_options(args)) as estimator:
        still = args.output.suffix.lower() == ".png"
        writer = None if still else VideoWriter(args.output, reader.fps, reader.declared_size)
        people, written = 0, False
        for index, image in enumerate(tqdm(reader, total=reader.declared_frames or None, unit="frame")):
            if still and index < args.frame:
                continue
            frame = tracker.update(estimator.estimate(image))
            people += bool(frame.people)
            annotated = draw_pose_frame(image, frame)
            if still:
                written = cv2.imwrite(str(args.output), cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
                break
            writer.write(annotated)
        if writer is not None:
            writer.close()
        frames = reader.frames_read
    if still and not written:
        raise UserError(f"--frame {args.frame} is past the end of {args.video} (it has {frames} frames); "
                        f"give --frame 0 to {frames - 1}")
    print(f"wrote {args.output} ({people} frame(s) with a person)")
    return 0
