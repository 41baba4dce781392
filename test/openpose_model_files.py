"""Generated OpenPose-shaped Caffe model files (no OpenPose weights can be obtained here).

A small network with OpenPose's interface: a BGR image in, one (J+1 + 2L)-channel blob out at
1/8 of the input resolution, the joint maps concatenated before the fields exactly like the
released COCO/BODY_25 prototxts. The ``.caffemodel`` is written in Caffe's binary protobuf format
by hand (field numbers from caffe.proto: NetParameter.layer=100, LayerParameter.name=1,
type=2, blobs=7; BlobProto.data=5 (packed float), shape=7; BlobShape.dim=1 (packed int64)),
because Caffe's generated protobuf module is not installable here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

STRIDE = 8


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _blob(array: np.ndarray) -> bytes:
    shape = _field(1, b"".join(_varint(int(d)) for d in array.shape))
    data = array.astype("<f4").tobytes()
    return _field(7, shape) + _field(5, data)


def _layer(name: str, kind: str, blobs: list[np.ndarray]) -> bytes:
    body = _field(1, name.encode()) + _field(2, kind.encode()) + b"".join(_field(7, _blob(b)) for b in blobs)
    return _field(100, body)


def write_model(folder: Path, num_heatmaps: int, num_fields: int, size: int = 64,
                seed: int = 0, sees_nobody: bool = False) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """Writes ``tiny.prototxt`` + ``tiny.caffemodel``; returns their paths and the weights.
    ``sees_nobody``: all-zero maps (no peak anywhere), for tests of the tools around the backend."""
    rng = np.random.default_rng(seed)
    weights = {
        "maps_w": rng.normal(0, 0.05, (num_heatmaps, 3, STRIDE, STRIDE)).astype(np.float32),
        "maps_b": rng.normal(0, 0.1, num_heatmaps).astype(np.float32),
        "fields_w": rng.normal(0, 0.05, (num_fields, 3, STRIDE, STRIDE)).astype(np.float32),
        "fields_b": rng.normal(0, 0.1, num_fields).astype(np.float32),
    }
    if sees_nobody:
        weights = {name: np.zeros_like(value) for name, value in weights.items()}
    prototxt = folder / "tiny.prototxt"
    prototxt.write_text(f"""name: "tiny_openpose"
layer {{ name: "image" type: "Input" top: "image" input_param {{ shape {{ dim: 1 dim: 3 dim: {size} dim: {size} }} }} }}
layer {{ name: "maps" type: "Convolution" bottom: "image" top: "maps"
  convolution_param {{ num_output: {num_heatmaps} kernel_size: {STRIDE} stride: {STRIDE} }} }}
layer {{ name: "fields" type: "Convolution" bottom: "image" top: "fields"
  convolution_param {{ num_output: {num_fields} kernel_size: {STRIDE} stride: {STRIDE} }} }}
layer {{ name: "net_output" type: "Concat" bottom: "maps" bottom: "fields" top: "net_output"
  concat_param {{ axis: 1 }} }}
""")
    caffemodel = folder / "tiny.caffemodel"
    caffemodel.write_bytes(
        _field(1, b"tiny_openpose")
        + _layer("maps", "Convolution", [weights["maps_w"], weights["maps_b"]])
        + _layer("fields", "Convolution", [weights["fields_w"], weights["fields_b"]])
    )
    return prototxt, caffemodel, weights


def reference_output(image_bgr_input: np.ndarray, weights: dict[str, np.ndarray]) -> np.ndarray:
    """The network's output computed with numpy from a (3, S, S) preprocessed input."""
    channels, size, _ = image_bgr_input.shape
    cells = size // STRIDE
    patches = image_bgr_input.reshape(channels, cells, STRIDE, cells, STRIDE).transpose(1, 3, 0, 2, 4)
    patches = patches.reshape(cells, cells, -1)
    outputs = []
    for name in ("maps", "fields"):
        w = weights[f"{name}_w"].reshape(weights[f"{name}_w"].shape[0], -1)
        outputs.append(np.einsum("hwk,ok->ohw", patches, w) + weights[f"{name}_b"][:, None, None])
    return np.concatenate(outputs).astype(np.float32)

