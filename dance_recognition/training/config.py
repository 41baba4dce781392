"""Training configuration: a YAML file, then ``key=value`` overrides from the command line.

Every field has a default that trains a sensible model on a dataset written by ``extract``;
``config/train_default.yaml`` lists them all with comments. Unknown keys are errors (a typo must
not silently train with a default).
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.models.stgcn import PAPER_CHANNELS, PAPER_STRIDES


class ConfigError(DanceRecognitionError):
    """A configuration file or override that cannot be used."""


@dataclass
class ModelSection:
    layout: str | None = None  # None: the dataset's layout
    convert_layout: bool = False  # convert a dataset of another layout on the fly
    strategy: str = "spatial"
    channels: list[int] = field(default_factory=lambda: list(PAPER_CHANNELS))
    strides: list[int] = field(default_factory=lambda: list(PAPER_STRIDES))
    temporal_kernel: int = 9
    dropout: float = 0.5
    edge_importance: bool = True
    temporal_padding: bool = True  # false: no temporal zero-padding, exactly streamable (window >= receptive field)


@dataclass
class DataSection:
    normalization: str | None = None  # None: body_centred for pixel datasets, kinetics for kinetics ones
    window: int | None = None  # None: the dataset's frames
    persons: int | None = None  # None: the dataset's persons
    num_workers: int = 0
    class_balance: bool = False  # sample classes equally often (for unbalanced datasets)


@dataclass
class AugmentSection:
    random_choose: bool = True  # random temporal crop when the sample is longer than the window
    random_shift: bool = False  # the real frames placed at a random offset in the window
    random_move: bool = True  # slowly changing rotation, scale and translation (the reference's)
    mirror: float = 0.5  # probability of a left-right mirror (swaps joints by name)


@dataclass
class OptimSection:
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # cosine | step | none
    milestones: list[int] = field(default_factory=lambda: [20, 30])  # for step
    gamma: float = 0.1  # for step
    warmup_epochs: int = 0


@dataclass
class FinetuneSection:
    init_from: str | None = None  # checkpoint to start from: ours or a reference st_gcn.*.pt
    freeze_backbone_epochs: int = 0  # train only the classifier head for the first N epochs
    head_lr: float | None = None  # the head's learning rate (None: optim.lr), on the same schedule


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    early_stopping: int = 0  # stop after this many epochs without a better val accuracy (0: never)
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    augment: AugmentSection = field(default_factory=AugmentSection)
    optim: OptimSection = field(default_factory=OptimSection)
    finetune: FinetuneSection = field(default_factory=FinetuneSection)

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("epochs and batch_size must be positive")
        if self.optim.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"optim.optimizer must be sgd or adam, not {self.optim.optimizer!r}")
        if self.optim.schedule not in ("cosine", "step", "none"):
            raise ConfigError(f"optim.schedule must be cosine, step or none, not {self.optim.schedule!r}")
        if not 0 <= self.augment.mirror <= 1:
            raise ConfigError("augment.mirror is a probability in [0, 1]")
        if len(self.model.channels) != len(self.model.strides):
            raise ConfigError("model.channels and model.strides must have the same length")
        if self.finetune.freeze_backbone_epochs < 0:
            raise ConfigError("finetune.freeze_backbone_epochs must be 0 or more")
        if self.finetune.head_lr is not None and not self.finetune.head_lr >= 0:
            raise ConfigError("finetune.head_lr must be a learning rate >= 0, or null for optim.lr")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'the config'} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(f'{where}{k}' for k in unknown)}; "
                          f"known: {', '.join(f'{where}{k}' for k in fields)}")
    kwargs = {}
    for name, value in values.items():
        default = getattr(cls(), name) if name in fields else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value, f"{where}{name}.")
        else:
            kwargs[name] = value
    return cls(**kwargs)


def _parse_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``optim.lr=0.01`` style overrides on a nested dict (values parsed as YAML)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        target = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        target[parts[-1]] = _parse_value(value)
    return data


RUN_CONFIG_FILE = "train_config.json"  # in the run folder: the settings a resumed run continues with
RESUMABLE_SETTINGS = ("epochs", "device")  # what ``--resume`` may change: extend a run, move it


def config_from_dict(data: dict) -> TrainConfig:
    """A TrainConfig from ``to_dict()`` output (or a YAML mapping), checked."""
    try:
        config = _build(TrainConfig, data, "")
    except TypeError as error:
        raise ConfigError(str(error)) from None
    config.check()
    return config


def load_run_config(output: str | os.PathLike, overrides: list[str] | None = None) -> TrainConfig:
    """The settings of the run in ``output`` (a resumed run continues with its own settings);
    ``overrides`` may change only ``epochs`` and ``device``."""
    path = Path(output) / RUN_CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"nothing to resume: {output} holds no training run ({RUN_CONFIG_FILE} is missing)")
    changed = sorted({item.partition("=")[0].strip() for item in overrides or []} - set(RESUMABLE_SETTINGS))
    if changed:
        raise ConfigError(f"a resumed run keeps its own settings; only {' and '.join(RESUMABLE_SETTINGS)} can "
                          f"change (given: {', '.join(changed)}); start a new run for other settings")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read {path}: {error}") from None
    return config_from_dict(apply_overrides(data, overrides or []))


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> TrainConfig:
    data: dict = {}
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except OSError as error:
            raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}") from None
    return config_from_dict(apply_overrides(data, overrides or []))
