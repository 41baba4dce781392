"""Safe loading and saving of ST-GCN checkpoints: ours and the reference's.

Our checkpoints are one dict of plain containers and tensors, so ``torch.load(weights_only=True)``
reads them and nothing in the file can run code. They carry everything a node needs to start
from the file alone: the network config (layout, strategy, channels), the class names, the input
normalisation, the window length and the number of persons.

Checkpoints of the public reference (yysijie/st-gcn, mmskeleton ST_GCN_18; e.g. the published
Kinetics-400 and NTU models) are bare state_dicts, possibly under ``state_dict`` and with a
``module.`` prefix. Their layout and partition strategy are recovered by matching the stored
adjacency ``A`` against every registered layout, so they load without conversion.
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dance_recognition.class_names import describe_difference, placeholder_names
from dance_recognition.errors import DanceRecognitionError
from dance_recognition.files import write_output
from dance_recognition.models.open_set import background_classes
from dance_recognition.models.stgcn import PAPER_STRIDES, STGCN, STGCNConfig
from dance_recognition.skeleton.graph import STRATEGIES, adjacency
from dance_recognition.skeleton.layouts import LAYOUTS
from dance_recognition.skeleton.preparation import InputSpec

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "dance_recognition/stgcn"
CHECKPOINT_VERSION = 1


class CheckpointError(DanceRecognitionError):
    """A checkpoint that cannot be used as asked; the message names both sides of a mismatch."""


@dataclass
class ModelCard:
    """What travels with the weights."""

    config: STGCNConfig
    classes: list[str]
    normalization: str = "kinetics"
    window: int = 300
    max_persons: int = 2
    source: str = "dance_recognition"
    extra: dict = field(default_factory=dict)

    @property
    def background_classes(self) -> frozenset[str]:
        """The classes meaning "no move" (standing, walking...; see models.open_set), as trained."""
        return background_classes(self.extra, self.classes)

    def input_spec(self) -> InputSpec:
        """What the model takes: its layout, normalisation, window and number of persons."""
        return InputSpec(layout=self.config.layout, normalization=self.normalization, window=self.window,
                         persons=self.max_persons)


@dataclass
class LoadedModel:
    model: STGCN
    card: ModelCard
    model_id: str


def _file_id(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return f"{path.stem}@{digest.hexdigest()[:12]}"


ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
PICKLE_MAGIC = b"\x80"  # the legacy format starts with a pickle protocol opcode


def _check_is_torch_file(path: Path) -> None:
    """A file that is not a torch.save file at all gets its own message (before torch.load, which
    would call a video "pickled Python objects" and a text file a KeyError)."""
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; give the checkpoint file (e.g. {path}/best.pt)")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with path.open("rb") as file:
        head = file.read(4)
    if not head:
        raise CheckpointError(f"checkpoint {path} is empty")
    if not head.startswith(ZIP_MAGIC) and not head.startswith(PICKLE_MAGIC):
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (a file written by torch.save); "
                              "give a .pt file saved by training or a published ST-GCN state_dict")


def _read(path: Path) -> object:
    _check_is_torch_file(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"refusing to load {path}: it holds pickled Python objects, not only tensors and plain containers "
            f"(which could run code when loaded). Re-save just its state_dict from a trusted session. ({error})"
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError, TypeError,
            AttributeError) as error:
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is truncated or not a PyTorch checkpoint ({error})"
        ) from error


def _state_dict_of(data: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path} is not a state_dict of tensors nor a {CHECKPOINT_FORMAT} checkpoint")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in data.items()}


def _match_layout(a: torch.Tensor) -> list[tuple[str, str]]:
    matches = []
    for name, layout in LAYOUTS.items():
        if layout.num_joints != a.shape[-1]:
            continue
        for strategy in STRATEGIES:
            candidate = torch.from_numpy(adjacency(layout, strategy))
            if candidate.shape == a.shape and torch.allclose(candidate, a.float(), atol=1e-6):
                matches.append((name, strategy))
    return matches


def _config_from_reference(state: dict[str, torch.Tensor], path: Path, layout: str | None,
                           strategy: str | None) -> STGCNConfig:
    try:
        in_channels = state["st_gcn_networks.0.gcn.conv.weight"].shape[1]
        num_classes = state["fcn.weight"].shape[0]
        num_joints = state["data_bn.weight"].numel() // in_channels
        num_blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("st_gcn_networks."))
        num_subsets = state["edge_importance.0"].shape[0] if "edge_importance.0" in state else state["A"].shape[0]
        channels = [state[f"st_gcn_networks.{i}.gcn.conv.weight"].shape[0] // num_subsets for i in range(num_blocks)]
    except KeyError as error:
        raise CheckpointError(f"{path} is not an ST-GCN state_dict: key {error} is missing") from error
    if "A" in state:
        matches = _match_layout(state["A"])
        if layout is not None and matches and (layout, strategy or matches[0][1]) not in matches:
            found = " or ".join(f"{n} ({s})" for n, s in matches)
            raise CheckpointError(
                f"layout mismatch: {path} was trained on {found}, but {layout} ({strategy or 'any strategy'}) "
                "was asked for; convert the skeletons or use a checkpoint for that layout"
            )
        if layout is None:
            if not matches:
                raise CheckpointError(
                    f"{path}: its adjacency A ({tuple(state['A'].shape)}) matches no registered layout; "
                    "register the layout it was trained on (dance_recognition.skeleton.layouts.register_layout)"
                )
            layout, strategy = matches[0]
        if not matches:
            raise CheckpointError(
                f"{path}: its adjacency A ({tuple(state['A'].shape)}) matches no registered layout, so it was not "
                f"trained on {layout}; register the layout it was trained on "
                "(dance_recognition.skeleton.layouts.register_layout)")
        strategy = strategy or next(s for n, s in matches if n == layout)
    elif layout is None:
        raise CheckpointError(f"{path} stores no adjacency A; pass the layout it was trained on")
    if layout not in LAYOUTS:
        raise CheckpointError(f"unknown keypoint layout {layout!r}; known layouts: {', '.join(sorted(LAYOUTS))}")
    if LAYOUTS[layout].num_joints != num_joints:
        raise CheckpointError(
            f"layout mismatch: {path} has {num_joints} joints (data_bn), layout {layout} has "
            f"{LAYOUTS[layout].num_joints}"
        )
    strides = PAPER_STRIDES if num_blocks == len(PAPER_STRIDES) else tuple([1] * num_blocks)
    return STGCNConfig(num_classes=num_classes, layout=layout, strategy=strategy or "spatial",
                       in_channels=in_channels, channels=tuple(channels), strides=strides,
                       edge_importance="edge_importance.0" in state)


def _load_state(model: STGCN, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    # Without learnable edge importance the reference stores no edge_importance.* (ours are ones then)
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")
               and (model.config.edge_importance or not k.startswith("edge_importance."))]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not fit the network: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{path}: {key} has shape {tuple(value.shape)}, the network expects {tuple(expected[key].shape)}"
            )
    model.load_state_dict(state, strict=False)


def load_checkpoint(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    *,
    classes: Sequence[str] | None = None,
    layout: str | None = None,
    strategy: str | None = None,
    normalization: str = "kinetics",
    window: int = 300,
    max_persons: int = 2,
    warn_unnamed: bool = True,
) -> LoadedModel:
    """Load our checkpoint or a reference state_dict, safely, into an eval-mode model.

    ``classes``/``layout`` are checked against what the file says (ours) or supply what it
    cannot say (reference files: class names, optionally the layout). Any disagreement is a
    CheckpointError naming both sides.
    """
    path = Path(path)
    data = _read(path)
    if isinstance(data, Mapping) and data.get("format") == CHECKPOINT_FORMAT:
        card = _card_from_ours(data, path)
        state = _state_dict_of(data["state_dict"], path)
        if layout is not None and layout != card.config.layout:
            raise CheckpointError(
                f"layout mismatch: {path} was trained on {card.config.layout}, but {layout} was asked for"
            )
    else:
        state = _state_dict_of(data, path)
        config = _config_from_reference(state, path, layout, strategy)
        card = ModelCard(config=config, classes=placeholder_names(config.num_classes),
                         normalization=normalization, window=window, max_persons=max_persons, source="reference")
        if classes is None and warn_unnamed:
            log.warning("%s has no class names; pass them (e.g. a label file) to get named labels", path)
    if classes is not None:
        if len(classes) != card.config.num_classes:
            raise CheckpointError(
                f"class mismatch: {path} has {card.config.num_classes} classes (fcn.weight), "
                f"but {len(classes)} class names were given; give one name per class, in the order of its outputs"
            )
        named = card.source != "reference" and card.classes != placeholder_names(len(card.classes))
        if named and list(classes) != card.classes:
            raise CheckpointError(f"class mismatch: {path} names its classes itself and the given names differ "
                                  f"({describe_difference(card.classes, list(classes))}); drop the class names "
                                  "or give the checkpoint's")
        card.classes = list(classes)
    model = STGCN(card.config)
    _load_state(model, state, path)
    return LoadedModel(model=model.to(device).eval(), card=card, model_id=_file_id(path))


def _card_from_ours(data: Mapping, path: Path) -> ModelCard:
    version = data.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} is format version {version}; this package reads up to {CHECKPOINT_VERSION}")
    try:
        config = STGCNConfig(**data["config"])
        card = ModelCard(config=config, classes=list(data["classes"]), normalization=data["normalization"],
                         window=int(data["window"]), max_persons=int(data["max_persons"]),
                         extra=dict(data.get("extra", {})))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} has broken metadata: {error}") from error
    if len(card.classes) != config.num_classes or len(set(card.classes)) != len(card.classes):
        raise CheckpointError(
            f"{path} names {len(card.classes)} classes for a {config.num_classes}-class network, or repeats a name"
        )
    return card


def save_checkpoint(path: str | os.PathLike, model: STGCN, card: ModelCard) -> Path:
    """Write atomically (temporary file + rename): a crash never leaves a half checkpoint."""
    path = Path(path)
    if len(card.classes) != model.config.num_classes:
        raise CheckpointError(f"{len(card.classes)} class names for a {model.config.num_classes}-class model")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": model.config.to_dict(),
        "classes": list(card.classes),
        "normalization": card.normalization,
        "window": int(card.window),
        "max_persons": int(card.max_persons),
        "extra": dict(card.extra),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    save_atomically(payload, path)
    return path


def save_atomically(payload: dict, path: Path, what: str = "checkpoint") -> None:
    """``torch.save`` through ``files.write_output``: readers see the old file or the complete
    new one, never a half-written one, no temporary file stays behind, and a failed write (a full
    disk) is one ``OutputError`` line naming the ``what`` and its path."""
    write_output(path, lambda f: torch.save(payload, f), what)
