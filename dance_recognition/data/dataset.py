"""The on-disk skeleton dataset: inspectable, safe to load, larger than RAM, appendable, atomic.

A dataset is a folder::

    dataset.json        what the dataset is (the commit record; written last, by atomic rename)
    shards/000000.npy   float32 arrays (n, C, T, V, M), opened memory-mapped

``dataset.json`` holds the layout, the class names, the sample shape, the coordinate convention,
the list of shards and one record per sample (label, split, source file, frame range, person,
image size). Only shards listed there belong to the dataset: a crash while writing leaves at most
an unlisted shard (ignored, overwritten later), never a dataset that looks complete but is not.
No pickle anywhere: ``np.load(allow_pickle=False)`` and JSON.

Coordinates: ``pixels`` = x, y in image pixels and confidence, with the image size of each sample
in its record (normalised at training time by the model's normalisation); ``kinetics`` = already
normalised like the reference Kinetics-skeleton data (x / width - 0.5). Missing joints and padding
frames are all-zero (confidence 0). NaN and inf are refused.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dance_recognition.errors import DanceRecognitionError
from dance_recognition.files import atomic_write, current_umask
from dance_recognition.skeleton.layouts import LAYOUTS, get_layout

DATASET_FORMAT = "dance_recognition/skeleton-dataset"
DATASET_VERSION = 1
COORDINATES = ("pixels", "kinetics")
SPLITS = ("train", "val", "test")
INDEX_FILE = "dataset.json"


class DatasetError(DanceRecognitionError):
    """A dataset that cannot be read or written as asked; says what is wrong and how to fix it."""


@dataclass
class SampleInfo:
    """Where one sample came from."""

    label: int
    split: str = "train"
    source: str = ""  # video or bag path (as given), or the imported sample name
    start_frame: int = 0
    end_frame: int = 0  # exclusive
    person: int = -1  # track id of the first person (-1: unknown / several)
    image_size: tuple[int, int] | None = None  # (width, height), needed for ``pixels`` coordinates
    num_frames: int = 0  # real frames before padding

    def to_json(self) -> dict:
        record = asdict(self)
        record["image_size"] = list(self.image_size) if self.image_size else None
        return record

    @classmethod
    def from_json(cls, record: dict) -> SampleInfo:
        record = dict(record)
        if record.get("image_size") is not None:
            record["image_size"] = tuple(int(v) for v in record["image_size"])
        return cls(**record)


@dataclass
class DatasetHeader:
    layout: str
    class_names: list[str]
    frames: int  # T
    persons: int  # M
    channels: int = 3
    coordinates: str = "pixels"
    shards: list[dict] = field(default_factory=list)  # {"file": ..., "count": ...}
    samples: list[SampleInfo] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # tool-specific records (e.g. extract's per-video status)

    @property
    def num_joints(self) -> int:
        return get_layout(self.layout).num_joints

    @property
    def sample_shape(self) -> tuple[int, int, int, int]:
        return (self.channels, self.frames, self.num_joints, self.persons)

    def validate(self) -> None:
        if self.layout not in LAYOUTS:
            raise DatasetError(f"unknown layout {self.layout!r}; known: {', '.join(sorted(LAYOUTS))}")
        check_class_names(self.class_names)
        if self.coordinates not in COORDINATES:
            raise DatasetError(f"unknown coordinates {self.coordinates!r}; use one of {', '.join(COORDINATES)}")
        if self.frames < 1 or self.persons < 1 or self.channels < 2:
            raise DatasetError(f"invalid sample shape {self.sample_shape}")

    def to_json(self) -> dict:
        return {
            "format": DATASET_FORMAT, "version": DATASET_VERSION, "layout": self.layout,
            "class_names": self.class_names, "frames": self.frames, "persons": self.persons,
            "channels": self.channels, "coordinates": self.coordinates, "num_samples": len(self.samples),
            "shards": self.shards, "samples": [s.to_json() for s in self.samples], "extra": self.extra,
        }


def check_class_names(class_names: Sequence[str]) -> None:
    if not class_names:
        raise DatasetError("no class names: a dataset needs at least one class")
    names = [str(name) for name in class_names]
    if any(not name.strip() for name in names):
        raise DatasetError("a class name is empty")
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DatasetError(f"duplicated class names: {', '.join(duplicates)}")


def check_finite(array: np.ndarray, what: str) -> None:
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise DatasetError(f"{what} holds NaN or inf (first at index {tuple(int(i) for i in bad)}); "
                           "missing joints must be zeros with confidence 0")


def _write_json_atomic(path: Path, data: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(data, indent=1).encode()))


def _save_array_atomic(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False))


def read_header(root: Path) -> DatasetHeader:
    """The validated index of the dataset at ``root`` (its shards are not opened)."""
    index = root / INDEX_FILE
    if not index.is_file():
        if root.is_dir() and any(root.glob("*_data_joint.npy")):
            raise DatasetError(f"{root} holds reference-format files (*_data_joint.npy): import them first with "
                               "`dance-recognition import-dataset reference`")
        raise DatasetError(f"{root} is not a dataset: {INDEX_FILE} is missing (was it written completely?)")
    try:
        data = json.loads(index.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"cannot read {index}: {error}") from None
    if data.get("format") != DATASET_FORMAT:
        raise DatasetError(f"{index} is not a {DATASET_FORMAT} file")
    if data.get("version", 0) > DATASET_VERSION:
        raise DatasetError(f"{index} has format version {data['version']}; this package reads <= {DATASET_VERSION}")
    header = DatasetHeader(
        layout=data["layout"], class_names=list(data["class_names"]), frames=int(data["frames"]),
        persons=int(data["persons"]), channels=int(data.get("channels", 3)), coordinates=data["coordinates"],
        shards=list(data["shards"]), samples=[SampleInfo.from_json(s) for s in data["samples"]],
        extra=dict(data.get("extra", {})),
    )
    header.validate()
    return header


class SkeletonDataset:
    """Read access: ``dataset[i]`` -> ((C, T, V, M) float32 array, label); shards memory-mapped."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.header = read_header(self.root)
        self._shards: list[np.ndarray] = []
        starts = [0]
        for shard in self.header.shards:
            path = self.root / shard["file"]
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as error:
                raise DatasetError(f"shard {path} is unreadable ({error}); the dataset is damaged") from None
            if array.shape != (shard["count"], *self.header.sample_shape) or array.dtype != np.float32:
                raise DatasetError(f"shard {path} has shape {array.shape} {array.dtype}, expected "
                                   f"{(shard['count'], *self.header.sample_shape)} float32")
            self._shards.append(array)
            starts.append(starts[-1] + shard["count"])
        self._starts = np.array(starts)
        if starts[-1] != len(self.header.samples):
            raise DatasetError(f"{self.root}: {starts[-1]} arrays for {len(self.header.samples)} sample records")
        self.labels = np.array([s.label for s in self.header.samples], dtype=np.int64)
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise DatasetError(f"{self.root}: labels outside 0..{len(self.class_names) - 1}")

    @property
    def class_names(self) -> list[str]:
        return self.header.class_names

    @property
    def layout(self) -> str:
        return self.header.layout

    @property
    def samples(self) -> list[SampleInfo]:
        return self.header.samples

    def __len__(self) -> int:
        return len(self.header.samples)

    def array(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range 0..{len(self) - 1}")
        shard = int(np.searchsorted(self._starts, index, side="right") - 1)
        return np.array(self._shards[shard][index - self._starts[shard]])

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.array(index), int(self.labels[index])

    def indices(self, split: str | None = None) -> np.ndarray:
        if split is None:
            return np.arange(len(self))
        return np.array([i for i, s in enumerate(self.samples) if s.split == split], dtype=np.int64)

    def class_counts(self, split: str | None = None) -> dict[str, int]:
        counts = np.bincount(self.labels[self.indices(split)], minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts, strict=True)}

    def check_values(self) -> None:
        """Full scan for NaN/inf (reads every shard once)."""
        for shard, array in zip(self.header.shards, self._shards, strict=True):
            check_finite(np.asarray(array), f"{self.root / shard['file']}")


class DatasetWriter:
    """Adds samples; ``commit()`` makes them part of the dataset in one atomic step.

    A new dataset is built in a hidden sibling folder and renamed into place on the first commit,
    so the final path either does not exist or holds a complete dataset. ``append=True`` adds to
    an existing dataset (same layout, shape and coordinates; new class names are appended).
    """

    def __init__(self, root: str | os.PathLike, layout: str, class_names: Sequence[str], frames: int,
                 persons: int = 1, coordinates: str = "pixels", append: bool = False, channels: int = 3) -> None:
        self.root = Path(root)
        requested = DatasetHeader(layout=get_layout(layout).name, class_names=[str(c) for c in class_names],
                                  frames=int(frames), persons=int(persons), channels=channels,
                                  coordinates=coordinates)
        requested.validate()
        self._pending: list[np.ndarray] = []
        self._pending_info: list[SampleInfo] = []
        self._shards: list[dict] = []  # written by flush(), published by commit()
        self._shard_samples: list[SampleInfo] = []
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"{self.root} is a file; a dataset is a folder: choose another output")
        if self.root.exists() and (self.root / INDEX_FILE).exists():
            if not append:
                raise DatasetError(f"{self.root} already holds a dataset; pass append (--append) to add to it, "
                                   "or choose another output folder")
            self.header = read_header(self.root)
            self._check_compatible(requested)
            self._building: Path | None = None
        else:
            if self.root.exists() and any(self.root.iterdir()):
                raise DatasetError(f"{self.root} exists and is not an empty dataset folder; choose another output")
            self.header = requested
            parent = self.root.parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
                self._building = Path(tempfile.mkdtemp(prefix=f".{self.root.name}.", suffix=".partial", dir=parent))
                self._building.chmod(0o777 & ~current_umask())  # mkdtemp makes it private; a dataset is not
                (self._building / "shards").mkdir()
            except OSError as error:
                raise DatasetError(f"cannot write to {parent} ({error.strerror}: read-only, full or no permission); "
                                   "choose another output folder") from None

    def _check_compatible(self, requested: DatasetHeader) -> None:
        have = self.header
        for name in ("layout", "frames", "persons", "channels", "coordinates"):
            if getattr(have, name) != getattr(requested, name):
                raise DatasetError(f"cannot append: the dataset has {name}={getattr(have, name)!r}, the new samples "
                                   f"{name}={getattr(requested, name)!r}")
        for name in requested.class_names:
            if name not in have.class_names:
                have.class_names.append(name)

    @property
    def class_names(self) -> list[str]:
        return self.header.class_names

    def label_of(self, class_name: str) -> int:
        if class_name not in self.header.class_names:
            self.header.class_names.append(class_name)
        return self.header.class_names.index(class_name)

    def add(self, sample: np.ndarray, info: SampleInfo) -> None:
        sample = np.asarray(sample, dtype=np.float32)
        if sample.shape != self.header.sample_shape:
            raise DatasetError(f"sample shape {sample.shape} does not match the dataset's {self.header.sample_shape} "
                               f"(C, T, V, M) for layout {self.header.layout}")
        check_finite(sample, f"sample from {info.source or 'input'}")
        if not 0 <= info.label < len(self.header.class_names):
            raise DatasetError(f"label {info.label} outside 0..{len(self.header.class_names) - 1}")
        if info.split not in SPLITS:
            raise DatasetError(f"unknown split {info.split!r}; use one of {', '.join(SPLITS)}")
        if self.header.coordinates == "pixels" and info.image_size is None:
            raise DatasetError("pixel coordinates need the image size of each sample")
        self._pending.append(sample)
        self._pending_info.append(info)

    @property
    def _folder(self) -> Path:
        return self._building if self._building is not None else self.root

    def flush(self) -> None:
        """Write pending samples to a new shard file, not yet part of the dataset (frees memory)."""
        if not self._pending:
            return
        folder = self._folder
        number = len(self._shards) + len(self.header.shards)
        name = f"shards/{number:06d}.npy"
        while (folder / name).exists():
            number += 1  # never overwrite a listed (or foreign) file
            name = f"shards/{number:06d}.npy"
        try:
            (folder / "shards").mkdir(exist_ok=True)
            _save_array_atomic(folder / name, np.stack(self._pending))
        except OSError as error:
            raise DatasetError(f"cannot write the dataset at {folder}: {error.strerror or error}; what was already "
                               "committed is unchanged (free some space or choose another output)") from None
        self._shards.append({"file": name, "count": len(self._pending)})
        self._shard_samples.extend(self._pending_info)
        self._pending, self._pending_info = [], []

    def commit(self) -> None:
        """Publish every sample added so far with one atomic replacement of the index."""
        self.flush()
        folder = self._folder
        shards, samples = self.header.shards + self._shards, self.header.samples + self._shard_samples
        record = self.header.to_json() | {"shards": shards, "samples": [s.to_json() for s in samples],
                                          "num_samples": len(samples)}
        try:
            _write_json_atomic(folder / INDEX_FILE, record)
        except OSError as error:
            raise DatasetError(f"cannot write the dataset index at {folder}: {error.strerror or error}; what was "
                               "already committed is unchanged (free some space or choose another output)") from None
        self.header.shards, self.header.samples = shards, samples
        self._shards, self._shard_samples = [], []
        if self._building is not None:
            if self.root.exists():
                self.root.rmdir()  # an empty folder we were asked to fill
            os.replace(self._building, self.root)
            self._building = None

    def abort(self) -> None:
        """Drop uncommitted samples (and the hidden folder of a never-committed new dataset)."""
        self._pending, self._pending_info = [], []
        for shard in self._shards:
            (self._folder / shard["file"]).unlink(missing_ok=True)
        self._shards, self._shard_samples = [], []
        if self._building is not None:
            shutil.rmtree(self._building, ignore_errors=True)
            self._building = None

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
