"""`dance-recognition predict`: which move is in one sequence file or video."""
from __future__ import annotations

import argparse
from pathlib import Path

from dance_recognition.commands import add_classes_argument, positive_int
from dance_recognition.commands.extract import add_backend_arguments, backend_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="classify one sequence (.npy) or video with a checkpoint")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("input", type=Path, help=".npy (C, T, V, M) or (T, V, 3) keypoints, or a video file")
    parser.add_argument("--layout", help="layout of a .npy input (default: the model's)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"),
                        help="image size of a .npy input in pixels (needed by kinetics-normalised models)")
    parser.add_argument("--top", type=positive_int, default=3, help="how many classes to print")
    parser.add_argument("--device", default="auto")
    add_classes_argument(parser)
    add_backend_arguments(parser)
    parser.set_defaults(handler=_predict)


def _print_top(probabilities, classes: list[str], top: int, prefix: str = "") -> None:
    order = probabilities.argsort()[::-1][:top]
    print(prefix + ", ".join(f"{classes[i]} {probabilities[i]:.1%}" for i in order))


def _predict(args: argparse.Namespace) -> int:
    import numpy as np

    from dance_recognition.class_names import read_class_names
    from dance_recognition.cli import UserError
    from dance_recognition.models.classifier import ActionClassifier

    classifier = ActionClassifier(args.checkpoint, device=args.device, classes=read_class_names(args.classes))
    if not args.input.is_file():
        raise UserError(f"{args.input} does not exist")
    image_size = tuple(args.image_size) if args.image_size else None
    if args.input.suffix == ".npy":
        try:
            array = np.load(args.input, allow_pickle=False)
        except EOFError:
            raise UserError(f"{args.input} is empty: no numpy array in it") from None
        except (OSError, ValueError) as error:
            raise UserError(f"cannot read {args.input} as a numpy array: {error}") from None
        if array.ndim == 3 and array.shape[-1] == 3:
            sequence = array[None]  # (T, V, 3) -> one person
        elif array.ndim == 4 and array.shape[0] == 3:
            sequence = array.transpose(3, 1, 2, 0)  # (C, T, V, M) -> (M, T, V, 3)
        else:
            raise UserError(f"{args.input} has shape {array.shape}; expected (C=3, T, V, M) or (T, V, 3)")
        if not np.isfinite(sequence[..., 2]).all():
            raise UserError(f"{args.input} has NaN/inf confidences")
        layout = args.layout or classifier.spec.layout
        _print_top(classifier.classify(sequence, layout, image_size), classifier.classes, args.top)
        return 0
    return _predict_video(args, classifier)


def _predict_video(args: argparse.Namespace, classifier) -> int:
    import numpy as np

    from dance_recognition.data.extract import VideoResult, track_sequences
    from dance_recognition.media.video import VideoReader
    from dance_recognition.models.classifier import NoPersonError
    from dance_recognition.pose import backend_layout, create_estimator

    options = backend_options(args)
    layout = backend_layout(args.backend, **options)
    with VideoReader(args.input) as reader, create_estimator(args.backend, **options) as estimator:
        tracks = track_sequences(reader, estimator, layout, VideoResult(name=str(args.input), status="ok"))
        fps, size = reader.fps, reader.size
    if not tracks:
        print(f"no person detected in {args.input}")
        return 1
    main = max(tracks.values(), key=lambda s: float(s[..., 2].sum()))
    window = classifier.spec.window
    stride = max(window // 2, 1)
    starts = list(range(0, max(len(main) - window, 0) + 1, stride))
    total, classified = np.zeros(len(classifier.classes)), 0
    for start in starts:
        span = f"{start / fps:6.2f}-{min(start + window, len(main)) / fps:6.2f} s: "
        try:
            probabilities = classifier.classify(main[None, start:start + window], layout, size)
        except NoPersonError:
            print(span + "no person")
            continue
        total, classified = total + probabilities, classified + 1
        _print_top(probabilities, classifier.classes, args.top, span)
    if not classified:
        print(f"no person detected in any window of {args.input}")
        return 1
    _print_top(total / classified, classifier.classes, args.top, "whole video: ")
    return 0
