"""Export a trained ST-GCN for deployment: TorchScript and ONNX, each checked against eager.

Both export the fused inference form (BatchNorms folded). A check runs the exported model on a
random input and refuses to leave a file whose outputs differ from the eager model's.
"""
from __future__ import annotations

import io
import json
import os

import torch

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.files import write_output
from dance_recognition.models.stgcn import STGCN, FusedSTGCN

DEFAULT_TOLERANCE = 1e-4
CLASSES_FILE = "classes.txt"  # TorchScript extra file: one class name a line, in output order
CLASSES_KEY = "classes"  # ONNX metadata: the class names as a JSON list, in output order


class ExportError(DanceRecognitionError):
    """The exported model does not reproduce the eager outputs."""


def _example(model: STGCN, frames: int, persons: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(1, model.in_channels, frames, model.num_joints, persons, generator=generator)


def _check(name: str, expected: torch.Tensor, actual: torch.Tensor, tolerance: float) -> float:
    error = float((expected - actual).abs().max() / expected.abs().max().clamp_min(1e-12))
    if not error <= tolerance:
        raise ExportError(f"{name} outputs differ from eager by {error:.2e} (relative), above {tolerance:.0e}")
    return error


def to_torchscript(model: STGCN) -> torch.jit.ScriptModule:
    return torch.jit.freeze(torch.jit.script(model.eval().fused()))


def export_torchscript(model: STGCN, path: str | os.PathLike, frames: int = 64, persons: int = 1,
                       tolerance: float = DEFAULT_TOLERANCE, classes: list[str] | None = None) -> float:
    """Save a frozen TorchScript module (class names, when given, in its extra file ``classes.txt``);
    returns the checked relative error."""
    scripted = to_torchscript(model)
    x = _example(model, frames, persons)
    with torch.inference_mode():
        error = _check("TorchScript", model.eval()(x), scripted(x), tolerance)
    extra = {CLASSES_FILE: "\n".join(classes) + "\n"} if classes else {}
    write_output(path, lambda file: torch.jit.save(scripted, file, _extra_files=extra), "TorchScript file")
    return error


def onnx_bytes(model: STGCN | FusedSTGCN, frames: int = 64, persons: int = 1, opset: int = 17) -> bytes:
    fused = model.eval().fused() if isinstance(model, STGCN) else model
    x = torch.randn(1, fused.in_channels, frames, fused.num_joints, persons)
    buffer = io.BytesIO()
    # The TorchScript-based exporter: the torch.export one needs onnx>=1.17 with protobuf>=6,
    # which MediaPipe 0.10.14 (protobuf<5) cannot share a venv with.
    torch.onnx.export(
        fused, (x,), buffer, dynamo=False, opset_version=opset, input_names=["skeletons"], output_names=["logits"],
        dynamic_axes={"skeletons": {0: "batch", 2: "frames", 4: "persons"}, "logits": {0: "batch"}},
    )
    return buffer.getvalue()


def _with_metadata(data: bytes, metadata: dict[str, str]) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def export_onnx(model: STGCN, path: str | os.PathLike, frames: int = 64, persons: int = 1,
                tolerance: float = DEFAULT_TOLERANCE, classes: list[str] | None = None) -> float:
    """Save an ONNX model (dynamic batch, frames, persons) checked with ONNX Runtime; class names,
    when given, go in its metadata (``classes``, a JSON list)."""
    import onnxruntime

    data = onnx_bytes(model, frames, persons)
    if classes:
        data = _with_metadata(data, {CLASSES_KEY: json.dumps(list(classes))})
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = _example(model, frames, persons)
    with torch.inference_mode():
        expected = model.eval()(x)
    actual = torch.from_numpy(session.run(None, {"skeletons": x.numpy()})[0])
    error = _check("ONNX", expected, actual, tolerance)
    write_output(path, lambda file: file.write(data), "ONNX file")
    return error
