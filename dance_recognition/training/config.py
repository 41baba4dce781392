"""Training configuration: a YAML file, then ``key=value`` overrides from the command line.

Every field has a default that trains a sensible model on a dataset written by ``extract``;
``config/train_default.yaml`` lists them all with comments. Unknown keys are errors (a typo must
not silently train with a default), every value is checked against its type and range (a
learning rate of ``abc`` is refused at once, not after loading the dataset).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.models.stgcn import STGCNConfig
from dance_recognition.skeleton.graph import STRATEGIES
from dance_recognition.skeleton.normalization import NORMALIZATIONS


class ConfigError(DanceRecognitionError):
    """A configuration file or override that cannot be used."""


def setting(default: Any = None, *, low: float | None = None, high: float | None = None,
            choices: tuple | None = None, factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with its allowed values (checked by ``load_config`` with its type)."""
    metadata = {"low": low, "high": high, "choices": choices}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


# ---------------------------------------------------------------- model: the network's own settings

# What the dataset decides, not the user; and where training's default differs from the bare network's.
DATASET_DECIDES = ("num_classes", "in_channels")
TRAINING_DEFAULTS = {"layout": None, "dropout": 0.5}  # layout None: the dataset's; dropout: the reference's
MODEL_LIMITS = {"strategy": {"choices": STRATEGIES}, "temporal_kernel": {"low": 1, "high": 99},
                "dropout": {"low": 0.0, "high": 0.99}, "max_hop": {"low": 1, "high": 10},
                "dilation": {"low": 1, "high": 10}}


def _model_section() -> type:
    """ModelSection = STGCNConfig's fields (less what the dataset decides) + ``convert_layout``:
    a new network hyper-parameter is a training setting without touching this file."""
    hints = typing.get_type_hints(STGCNConfig)
    fields: list[tuple[str, Any, Any]] = []
    for network_field in dataclasses.fields(STGCNConfig):
        name = network_field.name
        if name in DATASET_DECIDES:
            continue
        hint, default = hints[name], TRAINING_DEFAULTS.get(name, network_field.default)
        limits = MODEL_LIMITS.get(name, {})
        if name == "layout":
            fields.append((name, str | None, setting(None)))
            fields.append(("convert_layout", bool, setting(False)))  # convert a dataset of another layout
        elif isinstance(default, tuple):
            fields.append((name, list[int], setting(factory=lambda default=default: list(default), low=1)))
        else:
            fields.append((name, hint, setting(default, **limits)))
    section = dataclasses.make_dataclass("ModelSection", fields)
    section.__doc__ = "The network's settings (models.stgcn.STGCNConfig), as training settings."
    section.__module__ = __name__
    return section


ModelSection = _model_section()


@dataclass
class DataSection:
    normalization: str | None = setting(None, choices=(None, *NORMALIZATIONS))  # None: body_centred for pixel
    # datasets, kinetics for kinetics ones
    window: int | None = setting(None, low=1, high=10_000)  # None: the dataset's frames; 100,000 ran out of memory
    persons: int | None = setting(None, low=1, high=64)  # None: the dataset's persons
    num_workers: int | None = setting(None, low=0, high=256)  # None: auto (0 on a CPU, up to 8 beside a GPU)
    class_balance: bool = False  # sample classes equally often (for unbalanced datasets)
    background_classes: list[str] = setting(factory=list)  # noqa: RUF009 (a field) classes meaning "no move"


@dataclass
class AugmentSection:
    random_choose: bool = True  # random temporal crop when the sample is longer than the window
    random_shift: bool = False  # the real frames placed at a random offset in the window
    random_move: bool = True  # slowly changing rotation, scale and translation (the reference's)
    mirror: float = setting(0.5, low=0.0, high=1.0)  # probability of a left-right mirror (swaps joints by name)
    batched: bool = True  # random_move and mirror on whole batches on the training device (false: per sample)


@dataclass
class OptimSection:
    optimizer: str = setting("sgd", choices=("sgd", "adam"))
    lr: float = setting(0.1, low=0.0, high=10.0)
    momentum: float = setting(0.9, low=0.0, high=1.0)
    nesterov: bool = True
    weight_decay: float = setting(1e-4, low=0.0, high=1.0)
    schedule: str = setting("cosine", choices=("cosine", "step", "none"))
    milestones: list[int] = setting(factory=lambda: [20, 30], low=1)  # noqa: RUF009 (a field) for step
    gamma: float = setting(0.1, low=0.0, high=1.0)  # for step
    warmup_epochs: int = setting(0, low=0)


@dataclass
class FinetuneSection:
    init_from: str | None = None  # checkpoint to start from: ours or a reference st_gcn.*.pt
    freeze_backbone_epochs: int = setting(0, low=0)  # train only the classifier head for the first N epochs
    head_lr: float | None = setting(None, low=0.0, high=10.0)  # the head's learning rate (None: optim.lr)


@dataclass
class TrainConfig:
    epochs: int = setting(40, low=1, high=1_000_000)
    batch_size: int = setting(32, low=1, high=1_000_000)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    early_stopping: int = setting(0, low=0)  # stop after this many epochs without a better val accuracy (0: never)
    precision: str = setting("fp32", choices=("fp32", "bf16"))  # bf16: autocast of forward pass and loss
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    augment: AugmentSection = field(default_factory=AugmentSection)
    optim: OptimSection = field(default_factory=OptimSection)
    finetune: FinetuneSection = field(default_factory=FinetuneSection)

    def check(self) -> None:
        """What one setting alone cannot say (types and ranges are checked while building)."""
        if len(self.model.channels) != len(self.model.strides):
            raise ConfigError("model.channels and model.strides must have the same length")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- typed building

def _kind(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """``value`` as ``hint`` says, or a ConfigError naming the setting. Numbers given as text
    (``1e-3``, which YAML 1.1 reads as a string) become numbers; booleans never become numbers."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _coerce(value, next(option for option in options if option is not type(None)), name)
    if typing.get_origin(hint) in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name} must be a list like [1, 2], not {_kind(value)}")
        return [_coerce(item, typing.get_args(hint)[0], f"{name}[{index}]") for index, item in enumerate(value)]
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {_kind(value)}")
        return value
    if hint in (int, float):
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = hint(value.strip())
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name} must be a {'whole number' if hint is int else 'number'}, not {_kind(value)}")
        if hint is int and value != int(value):
            raise ConfigError(f"{name} must be a whole number, not {value!r}")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be text, not {_kind(value)}")
        return value
    raise TypeError(f"setting {name} has an unsupported type {hint!r}")  # a bug in this file, not the user's


def _check_limits(value: Any, metadata: Mapping, name: str) -> None:
    choices, low, high = metadata.get("choices"), metadata.get("low"), metadata.get("high")
    if choices is not None and value not in choices:
        shown = ", ".join("null" if c is None else str(c) for c in choices)
        raise ConfigError(f"{name} must be one of {shown}, not {value!r}")
    for item in value if isinstance(value, list) else [value]:
        if item is None:
            continue
        if (low is not None and item < low) or (high is not None and item > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"{name} must be {bounds}, not {item!r}")


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where.rstrip('.') or 'the config'} must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(f'{where}{k}' for k in unknown)}; "
                          f"known: {', '.join(f'{where}{k}' for k in fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{where}{name}.")
            continue
        kwargs[name] = _coerce(value, hint, f"{where}{name}")
        _check_limits(kwargs[name], fields[name].metadata, f"{where}{name}")
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
