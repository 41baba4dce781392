"""`dance-recognition predict`: which move is in one sequence file or video."""
from __future__ import annotations

import argparse
from pathlib import Path

from dance_recognition.commands import add_classes_argument, positive_int
from dance_recognition.commands.extract import add_backend_arguments, backend_options
from dance_recognition.skeleton.arrays import persons_first, top_k


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="classify one sequence (.npy) or video with a checkpoint")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("input", type=Path, help=".npy (C, T, V, M) or (T, V, 3) keypoints, or a video file")
    parser.add_argument("--layout", help="layout of a .npy input (default: the model's)")
    parser.add_argument("--image-size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"),
                        help="image size of a .npy input in pixels (needed by kinetics-normalised models)")
    parser.add_argument("--top", type=positive_int, default=3, help="how many classes to print")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="below this probability the answer is unknown, as in action_node (default 0.5)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--mode", choices=("auto", "window", "streaming"), default="auto",
                        help="streaming: the per-frame (continual) model over the newest window frames; window: "
                             "recompute each window; auto (default): streaming when the checkpoint streams exactly")
    add_classes_argument(parser)
    add_backend_arguments(parser)
    parser.set_defaults(handler=_predict)


def _print_top(probabilities, rule, top: int, prefix: str = "") -> None:
    """``ANSWER  (class p%, class p%, ...)``: the open-set answer (a move or ``unknown``, the rule
    action_node applies), then the most probable classes."""
    order = top_k(probabilities, top)
    listed = ", ".join(f"{rule.classes[i]} {probabilities[i]:.1%}" for i in order)
    print(f"{prefix}{rule.decide(probabilities)[0]}  ({listed})")


def _rule(classifier, args: argparse.Namespace):
    """The open-set rule of this checkpoint (its background classes) at ``--threshold``."""
    from dance_recognition.models.open_set import OpenSetRule

    return OpenSetRule(classifier.classes, classifier.card.background_classes, args.threshold)


def _predict(args: argparse.Namespace) -> int:
    from dance_recognition.class_names import read_class_names
    from dance_recognition.errors import UserError
    from dance_recognition.models.classifier import ActionClassifier
    from dance_recognition.models.streaming_classifier import resolve_mode

    if not 0 <= args.threshold <= 1:
        raise UserError(f"--threshold {args.threshold} is not a probability in [0, 1]")
    if not args.input.is_file():
        what = "is not a file" if args.input.exists() else "does not exist"
        raise UserError(f"{args.input} {what}; give a .npy sequence or a video file")
    classes = read_class_names(args.classes)
    if resolve_mode(args.checkpoint, args.mode) == "streaming":
        return _predict_streaming(args, classes)
    classifier = ActionClassifier(args.checkpoint, device=args.device, classes=classes)
    image_size = tuple(args.image_size) if args.image_size else None
    if args.input.suffix == ".npy":
        sequence = _read_sequence(args.input)
        layout = args.layout or classifier.spec.layout
        probabilities = classifier.classify(sequence, layout, image_size)  # first: no person is an error
        short = _too_short(sequence, classifier)
        if short:
            print(short)
            return 1
        _print_top(probabilities, _rule(classifier, args), args.top)
        return 0
    return _predict_video(args, classifier)


def _too_short(sequence, classifier) -> str:
    """The answer for (M, T, V, 3) keypoints too short for a label (the rule action_node's
    ``min_frames`` follows, ``skeleton.windows.MIN_WINDOW_SHARE``), or "" when long enough."""
    from dance_recognition.skeleton.windows import frames_with_a_person, min_window_frames

    window = classifier.spec.window
    seen, needed = frames_with_a_person(sequence), min_window_frames(window, classifier.card.source != "reference")
    if seen >= needed:
        return ""
    return (f"unknown  (too short: a person in {seen} frame(s); a label needs at least {needed} of the model's "
            f"{window}-frame window)")


def _read_sequence(path: Path):
    """A .npy input as (M, T, V, 3) keypoints, or one clear error."""
    import numpy as np

    from dance_recognition.errors import UserError

    try:
        array = np.load(path, allow_pickle=False)
    except EOFError:
        raise UserError(f"{path} is empty: no numpy array in it") from None
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path} as a numpy array: {error}") from None
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise UserError(f"{path} holds {array.dtype} values; expected numbers (float keypoints x, y, confidence)")
    if array.ndim == 3 and array.shape[-1] == 3:
        sequence = array[None]  # (T, V, 3) -> one person
    elif array.ndim == 4 and array.shape[0] == 3:
        sequence = persons_first(array)
    else:
        raise UserError(f"{path} has shape {array.shape}; expected (C=3, T, V, M) or (T, V, 3)")
    if not np.isfinite(sequence[..., 2]).all():
        raise UserError(f"{path} has NaN/inf confidences")
    detected = sequence[..., 2] > 0  # a missing joint (confidence 0) may have NaN positions, a detected one not
    if not np.isfinite(sequence[..., :2][detected]).all():
        raise UserError(f"{path} has NaN/inf x/y positions for joints with confidence > 0; give those joints "
                        "confidence 0 (missing) or finite positions")
    return sequence


MIN_PRESENCE = 0.25  # share of a video's frames a person must be seen in to be classified


def _video_tracks(args: argparse.Namespace):
    """Every person seen in at least ``MIN_PRESENCE`` of the video (at least the most visible one),
    most visible first: ([(track id, (T, V, 3) keypoints)], layout, fps, size), or None."""
    from dance_recognition.data.extract import track_sequences
    from dance_recognition.media.video import VideoReader
    from dance_recognition.pose import backend_layout, create_estimator

    options = backend_options(args)
    layout = backend_layout(args.backend, **options)
    with VideoReader(args.input) as reader, create_estimator(args.backend, **options) as estimator:
        tracks = track_sequences(reader, estimator, layout).tracks
        fps, size = reader.fps, reader.size
    if not tracks:
        print(f"no person detected in {args.input}")
        return None
    presence = {track_id: float((s[..., 2] > 0).any(axis=1).mean()) for track_id, s in tracks.items()}
    ranked = sorted(tracks, key=lambda t: (-presence[t], t))
    people = [(t, tracks[t]) for t in ranked if presence[t] >= MIN_PRESENCE] or [(ranked[0], tracks[ranked[0]])]
    return people, layout, fps, size


def _predict_streaming(args: argparse.Namespace, classes: list[str] | None) -> int:
    """The streaming model over the input, frame by frame, as action_node runs it: each person of
    a .npy as a track (the newest window's prediction), every person of a video every half window."""
    import numpy as np

    from dance_recognition.errors import UserError
    from dance_recognition.live.person_streams import PersonStreams
    from dance_recognition.models.checkpoint import load_checkpoint
    from dance_recognition.models.classifier import check_has_person
    from dance_recognition.models.streaming import plan_stream
    from dance_recognition.models.streaming_classifier import StreamingClassifier, stream_window
    from dance_recognition.skeleton.layouts import get_layout
    from dance_recognition.skeleton.pose import PersonPose, PoseFrame

    if args.input.suffix == ".npy":
        sequences, fps, size = _read_sequence(args.input), 30.0, tuple(args.image_size) if args.image_size else None
        check_has_person(sequences)  # no frames / no joint: the same answer as in window mode, before any length
        layout, every = args.layout, 1
        track_names = {index: index for index in range(len(sequences))}
    else:
        found = _video_tracks(args)
        if found is None:
            return 1
        people, layout, fps, size = found
        sequences, every = np.stack([sequence for _, sequence in people]), 0
        track_names = {index: track_id for index, (track_id, _) in enumerate(people)}
    card = load_checkpoint(args.checkpoint, classes=classes).card
    window = plan_stream(card.config, stream_window(card.config, card.window)).window
    classifier = StreamingClassifier(args.checkpoint, device=args.device, classes=classes,
                                     every=every or max(window // 2, 1))
    layout = layout or classifier.spec.layout
    classifier.accepts(layout)
    joint_names = get_layout(layout).joint_names
    if sequences.shape[2] != len(joint_names):
        raise UserError(f"{args.input} has {sequences.shape[2]} joints per frame but layout {layout} has "
                        f"{len(joint_names)}: give --layout with the input's layout")
    if sequences.shape[1] < window:
        raise UserError(f"{args.input} has {sequences.shape[1]} frames; streaming predicts over the newest {window} "
                        "(the model's window): give a longer input, or use --mode window (which pads with zeros)")
    if size is None and classifier.spec.normalization == "kinetics":
        raise UserError("this model uses kinetics normalisation: give --image-size WIDTH HEIGHT of the .npy input")
    streams = PersonStreams(classifier, max_gap_s=3600.0, timeout_s=3600.0)
    width, height = size or (0, 0)
    latest: dict[int, np.ndarray] = {}
    total: dict[int, np.ndarray] = {}
    count: dict[int, int] = {}
    for index in range(sequences.shape[1]):
        people = [PersonPose(keypoints=np.asarray(s[index], np.float32), track_id=m) for m, s in enumerate(sequences)]
        frame = PoseFrame(layout, joint_names, width, height, people, stamp_ns=round(index * 1e9 / fps))
        for prediction in streams.add(frame):
            latest[prediction.track_id] = prediction.probabilities
            if every != 1:
                person = prediction.track_id
                total[person] = total.get(person, 0) + prediction.probabilities
                count[person] = count.get(person, 0) + 1
                who = f"person {track_names[person]} " if len(track_names) > 1 else ""
                _print_top(prediction.probabilities, _rule(classifier, args), args.top,
                           f"{who}{(index + 1 - window) / fps:6.2f}-{(index + 1) / fps:6.2f} s: ")
    if every == 1:
        if not latest:
            raise UserError(f"no joint is detected in the newest {window} frames of {args.input}; nothing to classify")
        for track_id, probabilities in sorted(latest.items()):
            who = f"person {track_id}: " if len(latest) > 1 else ""
            _print_top(probabilities, _rule(classifier, args), args.top, who)
        return 0
    if not count:
        print(f"no person detected in any window of {args.input}")
        return 1
    for person in sorted(count):
        who = f"person {track_names[person]}, " if len(track_names) > 1 else ""
        _print_top(total[person] / count[person], _rule(classifier, args), args.top, f"{who}whole video: ")
    return 0


def _predict_video(args: argparse.Namespace, classifier) -> int:
    """Windows of every person seen (each labelled ``person <track id>`` when there are several)."""
    found = _video_tracks(args)
    if found is None:
        return 1
    people, layout, fps, size = found
    classified = 0
    for track_id, sequence in people:
        if len(people) > 1:
            seen = int((sequence[..., 2] > 0).any(axis=1).sum())
            print(f"person {track_id} (seen in {seen} of {len(sequence)} frames):")
        classified += _classify_windows(args, classifier, sequence, layout, fps, size, "  " if len(people) > 1 else "")
    if not classified:
        print(f"no person detected in any window of {args.input}")
        return 1
    return 0


def _classify_windows(args: argparse.Namespace, classifier, main, layout: str, fps: float, size, indent: str) -> int:
    """Prints each window's and the whole sequence's top classes; returns the windows classified."""
    import numpy as np

    from dance_recognition.models.classifier import NoPersonError

    window = classifier.spec.window
    stride = max(window // 2, 1)
    starts = list(range(0, max(len(main) - window, 0) + 1, stride))
    total, classified = np.zeros(len(classifier.classes)), 0
    for start in starts:
        span = f"{indent}{start / fps:6.2f}-{min(start + window, len(main)) / fps:6.2f} s: "
        try:
            probabilities = classifier.classify(main[None, start:start + window], layout, size)
        except NoPersonError:
            print(span + "no person")
            continue
        short = _too_short(main[None, start:start + window], classifier)
        if short:
            print(span + short)
            continue
        total, classified = total + probabilities, classified + 1
        _print_top(probabilities, _rule(classifier, args), args.top, span)
    if classified:
        _print_top(total / classified, _rule(classifier, args), args.top, f"{indent}whole video: ")
    return classified
