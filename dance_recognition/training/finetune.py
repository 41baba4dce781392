"""Starting a training run from trained weights: fine-tuning a package or published ST-GCN checkpoint.

A dance school has a handful of takes per move; a network that already learnt to read skeleton
motion (the published Kinetics or NTU models, or one of ours) needs far fewer of them than one
that starts from random weights. ``finetune.init_from`` names that checkpoint; then:

- the network follows the checkpoint's architecture (layout, partition strategy, channels,
  strides, temporal kernel, edge importance) wherever the ``model`` settings are left at their
  defaults, and its input normalisation where ``data.normalization`` is null. A dataset in
  another layout (MediaPipe-33 for a COCO-18 checkpoint) is converted while training;
- every tensor is matched by name and shape. The classifier head (``fcn``) is re-initialised when
  the class names differ (a reference checkpoint names none, so its head always is); tensors of
  another shape stay freshly initialised. The adjacency ``A`` is always the network's own graph;
- ``InitReport`` says what was loaded, re-initialised and skipped (printed and saved in the run).

``freeze_backbone_epochs`` trains only the head for the first epochs (backbone parameters get no
gradient and its BatchNorm statistics stay as loaded), and ``head_lr`` gives the head its own
learning rate on the same schedule.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from dance_recognition.models.checkpoint import CheckpointError, LoadedModel, load_checkpoint
from dance_recognition.models.stgcn import STGCN
from dance_recognition.training.config import ConfigError, TrainConfig

HEAD_PREFIX = "fcn."
GRAPH_KEY = "A"  # the adjacency buffer: fixed by layout and strategy, never learnt
NOT_ARCHITECTURE = {"dropout", "convert_layout", "num_classes"}


@dataclass
class InitReport:
    """What ``initialise_from`` did, tensor by tensor."""

    source: str
    loaded: list[str] = field(default_factory=list)
    reinitialised: dict[str, str] = field(default_factory=dict)  # network key -> why it kept its fresh values
    skipped: dict[str, str] = field(default_factory=dict)  # checkpoint key -> why it was not used
    settings: list[str] = field(default_factory=list)  # settings taken from the checkpoint
    loaded_values: int = 0

    def lines(self) -> list[str]:
        out = [f"fine-tuning from {self.source}"]
        out += [f"  setting       {setting}" for setting in self.settings]
        out.append(f"  loaded        {len(self.loaded)} tensors ({self.loaded_values:,} values): "
                   f"{summarise_keys(self.loaded) or 'none'}")
        out += _reasons("re-initialised", self.reinitialised)
        out += _reasons("skipped", self.skipped) if self.skipped else ["  skipped       none"]
        return out

    def to_json(self) -> dict:
        return {"source": self.source, "settings": self.settings, "loaded": self.loaded,
                "loaded_values": self.loaded_values, "reinitialised": self.reinitialised, "skipped": self.skipped}


def _reasons(title: str, reasons: dict[str, str]) -> list[str]:
    by_reason: dict[str, list[str]] = {}
    for key, reason in reasons.items():
        by_reason.setdefault(reason, []).append(key)
    return [f"  {title:<13} {summarise_keys(keys)}: {reason}" for reason, keys in by_reason.items()]


def summarise_keys(keys: list[str]) -> str:
    """``st_gcn_networks.0.gcn.conv.weight`` ... -> ``st_gcn_networks.0-9``: readable for 170 keys."""
    if len(keys) <= 4:
        return ", ".join(keys)
    groups: dict[str, list[int]] = {}
    plain: list[str] = []
    for key in keys:
        match = re.match(r"([A-Za-z_]+)\.(\d+)(\.|$)", key)
        if match:
            groups.setdefault(match.group(1), []).append(int(match.group(2)))
        else:
            module = key.rsplit(".", 1)[0] if "." in key else key
            if module not in plain:
                plain.append(module)
    parts = list(plain)
    for name, indices in groups.items():
        low, high = min(indices), max(indices)
        parts.append(f"{name}.{low}" if low == high else f"{name}.{low}-{high}")
    return ", ".join(parts)


def read_initial(path: str | Path) -> LoadedModel:
    """The checkpoint to start from (ours or a reference state_dict), checked like any load."""
    try:
        return load_checkpoint(path, warn_unnamed=False)
    except CheckpointError as error:
        raise ConfigError(f"finetune.init_from: {error}") from None


def with_initial_architecture(config: TrainConfig, initial: LoadedModel, dataset_layout: str
                              ) -> tuple[TrainConfig, list[str]]:
    """A copy of ``config`` whose default model settings are the checkpoint's; also the notes."""
    source = initial.card.config.to_dict()
    defaults = type(config.model)()
    model = dataclasses.replace(config.model)
    notes = []
    for setting in dataclasses.fields(model):
        name = setting.name
        if name in NOT_ARCHITECTURE or name not in source:
            continue
        value, default = getattr(model, name), getattr(defaults, name)
        if _same(value, default) and not _same(value, source[name]):
            setattr(model, name, list(source[name]) if isinstance(source[name], (list, tuple)) else source[name])
            notes.append(f"model.{name}={getattr(model, name)} (the checkpoint's)")
    if model.layout != dataset_layout and config.model.layout is None:
        model.convert_layout = True
        notes.append(f"the dataset's {dataset_layout} keypoints are converted to {model.layout} while training")
    data = dataclasses.replace(config.data)
    if data.normalization is None:
        data.normalization = initial.card.normalization
        notes.append(f"data.normalization={data.normalization} (the checkpoint's)")
    return dataclasses.replace(config, model=model, data=data), notes


def _same(a: object, b: object) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def initialise_from(model: STGCN, initial: LoadedModel, classes: list[str], source: str) -> InitReport:
    """Copy every tensor of ``initial`` that fits ``model`` by name and shape; report the rest."""
    report = InitReport(source=source)
    theirs = initial.model.state_dict()
    ours = model.state_dict()
    same_classes = initial.card.source != "reference" and list(initial.card.classes) == list(classes)
    head_reason = (f"the classes differ ({len(initial.card.classes)} "
                   f"{'unnamed' if initial.card.source == 'reference' else 'named'} -> {len(classes)})")
    chosen = {}
    for key, value in ours.items():
        if key == GRAPH_KEY or key.endswith("num_batches_tracked"):
            continue
        if key.startswith(HEAD_PREFIX) and not same_classes:
            report.reinitialised[key] = head_reason
        elif key not in theirs:
            report.reinitialised[key] = "not in the checkpoint"
        elif theirs[key].shape != value.shape:
            report.reinitialised[key] = "another shape in the checkpoint"
        else:
            chosen[key] = theirs[key]
            report.loaded.append(key)
            report.loaded_values += value.numel()
    for key, value in theirs.items():
        if key == GRAPH_KEY or key.endswith("num_batches_tracked") or key in chosen:
            continue
        if key.startswith(HEAD_PREFIX) and not same_classes:
            continue  # said once, under re-initialised
        report.skipped[key] = ("not in this network" if key not in ours else
                               f"shape {tuple(value.shape)}, the network's {tuple(ours[key].shape)}")
    model.load_state_dict(chosen, strict=False)
    return report


# ---------------------------------------------------------------- freezing and the head's learning rate

def is_head(name: str) -> bool:
    return name.startswith(HEAD_PREFIX)


def parameter_groups(model: nn.Module) -> list[dict]:
    """Two groups, backbone then head, so each can get its own learning rate."""
    named = list(_network(model).named_parameters())
    return [{"params": [p for n, p in named if not is_head(n)], "name": "backbone"},
            {"params": [p for n, p in named if is_head(n)], "name": "head"}]


class BackboneFreezer:
    """Freezes and thaws everything but the head, restoring each parameter's own flag on thaw
    (fixed edge importance never becomes trainable)."""

    def __init__(self, model: nn.Module) -> None:
        self.network = _network(model)
        self.trainable = {name: p.requires_grad for name, p in self.network.named_parameters()}
        self.frozen = False

    def set(self, frozen: bool) -> None:
        for name, parameter in self.network.named_parameters():
            parameter.requires_grad_(self.trainable[name] and (is_head(name) or not frozen))
        self.frozen = frozen

    def train_mode(self) -> None:
        """``model.train()``, except that a frozen backbone keeps its BatchNorm statistics."""
        self.network.train()
        if self.frozen:
            for name, module in self.network.named_children():
                if not is_head(f"{name}."):
                    module.eval()


def _network(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def check_finetune(config: TrainConfig, world: int) -> None:
    finetune = config.finetune
    if finetune.freeze_backbone_epochs and not finetune.init_from:
        raise ConfigError("finetune.freeze_backbone_epochs needs finetune.init_from (--init-from): a random "
                          "backbone would stay random")
    if finetune.freeze_backbone_epochs and world > 1:
        raise ConfigError("finetune.freeze_backbone_epochs is not supported with several processes (torchrun): "
                          "train the head on one process, or set it to 0")
