"""`dance-recognition export`: a checkpoint -> TorchScript and/or ONNX, checked against eager outputs."""
from __future__ import annotations

import argparse
from pathlib import Path

from dance_recognition.commands import add_classes_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a checkpoint to TorchScript and/or ONNX (checked)")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--torchscript", type=Path, help="output .pt (frozen TorchScript)")
    parser.add_argument("--onnx", type=Path, help="output .onnx (dynamic batch, frames, persons)")
    add_classes_argument(parser, '; stored in the exported files')
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from dance_recognition.class_names import read_class_names
    from dance_recognition.errors import UserError
    from dance_recognition.files import check_output_file
    from dance_recognition.models.checkpoint import load_checkpoint
    from dance_recognition.models.export import export_onnx, export_torchscript

    if args.torchscript is None and args.onnx is None:
        raise UserError("nothing to do: give --torchscript PATH and/or --onnx PATH")
    for path, what in ((args.torchscript, "TorchScript file"), (args.onnx, "ONNX file")):
        if path is not None:
            check_output_file(path, what, inputs=[args.checkpoint])  # before minutes of tracing, not after
    loaded = load_checkpoint(args.checkpoint, classes=read_class_names(args.classes))
    frames, persons, classes = loaded.card.window, loaded.card.max_persons, loaded.card.classes
    if args.torchscript:
        error = export_torchscript(loaded.model, args.torchscript, frames=frames, persons=persons, classes=classes)
        print(f"TorchScript: {args.torchscript} (max relative difference to eager {error:.1e})")
    if args.onnx:
        error = export_onnx(loaded.model, args.onnx, frames=frames, persons=persons, classes=classes)
        print(f"ONNX: {args.onnx} (max relative difference to eager, ONNX Runtime {error:.1e})")
    return 0
