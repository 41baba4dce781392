"""Importers for skeleton data users of the field already have.

- ``reference``: the ST-GCN reference's (and the original dance project's) ``{train,val}_data_joint.npy``
  (N, C, T, V, M) arrays with ``{train,val}_label.pkl`` = ``(sample_names, labels)``. The pickle is
  read by a restricted unpickler that builds only lists, tuples, str, int (and numpy integers
  are refused too): a label file cannot run code. The arrays are read memory-mapped, in chunks.
- ``kinetics``: the Kinetics-skeleton JSON of the reference (one file per clip: ``data`` -> frames
  with ``frame_index`` and ``skeleton`` entries of ``pose`` = x, y pairs in 0..1 and ``score``),
  with its label file (``{clip: {"label", "label_index", "has_skeleton"}}``). Converted like the
  reference feeder does: the first 5 skeletons of each frame, x, y - 0.5, zeros where the score is
  0, and in EACH FRAME the persons ranked by their summed score (so the first person may change
  from frame to frame, as in the published models' training data). The label file, the clips' own
  labels and ``--classes`` must agree: a disagreement is an error, never a silent relabelling.

Both give ``kinetics`` coordinates (already normalised), which models trained with the
``kinetics`` normalisation use as they are.
"""
from __future__ import annotations

import io
import json
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dance_recognition.data.dataset import DatasetError, DatasetWriter, SampleInfo, check_finite
from dance_recognition.skeleton.layouts import LAYOUTS

LAYOUT_BY_JOINTS = {18: "openpose_coco_18", 25: "ntu_rgbd_25", 33: "mediapipe_pose_33", 17: "coco_17"}
CHUNK = 512
PERSONS_READ = 5  # skeletons read per frame, the first ones as listed (the reference feeder's num_person_in)


def _integer_scalar(dtype: np.dtype, raw: bytes) -> int:
    """numpy's pickled scalar, rebuilt only when it is an integer (labels saved from numpy arrays)."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "iu":
        raise pickle.UnpicklingError(f"the label file holds a numpy {dtype} scalar; only integers are accepted")
    return int(np.frombuffer(raw, dtype=dtype)[0])


def _dtype(name: str, align: bool = False, copy: bool = True) -> np.dtype:
    if not isinstance(name, str) or np.dtype(name).kind not in "iu":
        raise pickle.UnpicklingError(f"the label file holds a numpy {name!r} value; only integers are accepted")
    return np.dtype(name)


_ALLOWED_GLOBALS = {("numpy", "dtype"): _dtype, ("numpy.core.multiarray", "scalar"): _integer_scalar,
                    ("numpy._core.multiarray", "scalar"): _integer_scalar}


class _LabelUnpickler(pickle.Unpickler):
    """Builds lists, tuples, str and int only; numpy integer labels become int. Everything else
    (any other class or function a pickle can name) is refused before it is touched."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        raise pickle.UnpicklingError(f"the label file asks for {module}.{name}; only lists/tuples of str and int "
                                     "are accepted")


def read_label_pickle(path: Path) -> tuple[list[str], list[int]]:
    """``(sample_names, labels)`` from a reference label pickle, refusing anything else."""
    try:
        data = _LabelUnpickler(io.BytesIO(path.read_bytes())).load()
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error.strerror}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DatasetError(f"{path} is not a plain (sample_names, labels) pickle: {error}") from None
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise DatasetError(f"{path} must hold (sample_names, labels), got a {type(data).__name__}")
    names, labels = data
    if not all(isinstance(n, str) for n in names) or not all(isinstance(x, int) and x >= 0 for x in labels):
        raise DatasetError(f"{path}: sample names must be str and labels non-negative int")
    if len(names) != len(labels):
        raise DatasetError(f"{path}: {len(names)} sample names for {len(labels)} labels")
    return list(names), list(labels)


def _class_names(given: Sequence[str] | None, num_labels: int, source: str) -> list[str]:
    if given is None:
        return [f"class_{i}" for i in range(num_labels)]
    if len(given) < num_labels:
        raise DatasetError(f"{source} uses labels up to {num_labels - 1} but only {len(given)} class names were given")
    return list(given)


def _layout_for(num_joints: int, layout: str | None, source: str) -> str:
    if layout is not None:
        if layout not in LAYOUTS:
            raise DatasetError(f"unknown keypoint layout {layout!r}; known layouts: {', '.join(sorted(LAYOUTS))}")
        if LAYOUTS[layout].num_joints != num_joints:
            raise DatasetError(f"{source} has {num_joints} joints but layout {layout} has {LAYOUTS[layout].num_joints}")
        return layout
    if num_joints not in LAYOUT_BY_JOINTS:
        raise DatasetError(f"{source} has {num_joints} joints; name its layout (--layout)")
    return LAYOUT_BY_JOINTS[num_joints]


def clean_reference_sample(sample: np.ndarray) -> np.ndarray:
    """Missing joints as zeros: the original dance project wrote -1 (or a 0 score) for them."""
    sample = np.array(sample, dtype=np.float32)
    missing = (sample[2] <= 0) | ((sample[0] == -1) & (sample[1] == -1))
    sample[:, missing] = 0.0
    return sample


def import_reference(folder: str | Path, output: str | Path, class_names: Sequence[str] | None = None,
                     layout: str | None = None, splits: Sequence[str] = ("train", "val")) -> int:
    """Import ``<split>_data_joint.npy`` + ``<split>_label.pkl`` pairs; returns the sample count."""
    folder = Path(folder)
    parts = []
    for split in splits:
        data_path, label_path = folder / f"{split}_data_joint.npy", folder / f"{split}_label.pkl"
        if not data_path.exists():
            continue
        if not label_path.exists():
            raise DatasetError(f"{data_path} has no {label_path.name} beside it")
        try:
            array = np.load(data_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DatasetError(f"cannot read {data_path} as a numpy array: {error}") from None
        if array.ndim != 5:
            raise DatasetError(f"{data_path} has shape {array.shape}; expected (N, C, T, V, M)")
        names, labels = read_label_pickle(label_path)
        if len(labels) != array.shape[0]:
            raise DatasetError(f"{data_path} holds {array.shape[0]} samples but {label_path} labels {len(labels)}")
        parts.append((split, data_path, array, names, labels))
    if not parts:
        raise DatasetError(f"no {{train,val}}_data_joint.npy in {folder}")
    shapes = {p[2].shape[1:] for p in parts}
    if len(shapes) != 1:
        raise DatasetError(f"the splits have different sample shapes: {sorted(shapes)}")
    channels, frames, joints, persons = parts[0][2].shape[1:]
    layout = _layout_for(joints, layout, str(parts[0][1]))
    num_labels = max(max(p[4], default=-1) for p in parts) + 1
    if num_labels == 0:
        raise DatasetError(f"{folder}: the label files hold no samples")
    classes = _class_names(class_names, num_labels, str(folder))
    writer = DatasetWriter(output, layout, classes, frames=frames, persons=persons, coordinates="kinetics",
                           channels=channels)
    try:
        for split, data_path, array, names, labels in parts:
            for start in tqdm(range(0, len(labels), CHUNK), desc=f"import {split}", unit="chunk"):
                chunk = np.asarray(array[start:start + CHUNK], dtype=np.float32)
                check_finite(chunk, f"{data_path} (samples {start}..{start + len(chunk) - 1})")
                for offset, sample in enumerate(chunk):
                    index = start + offset
                    writer.add(clean_reference_sample(sample),
                               SampleInfo(label=labels[index], split=split, source=names[index], end_frame=frames))
                writer.flush()
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return sum(len(p[4]) for p in parts)


@dataclass
class KineticsClip:
    data: np.ndarray  # (3, T, V, M) in reference coordinates
    frames_used: int  # frames up to the last one with data
    label_index: int | None  # the clip's own label_index, when it states one


def read_kinetics_clip(path: Path, frames: int, persons: int, joints: int = 18) -> KineticsClip:
    """One clip as the reference feeder reads it (see the module docstring)."""
    try:
        clip = json.loads(path.read_text())
        entries = clip["data"]
        own_label = int(clip["label_index"]) if isinstance(clip, dict) and "label_index" in clip else None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DatasetError(f"{path} is not a Kinetics-skeleton clip ({error})") from None
    slots = PERSONS_READ
    data = np.zeros((3, frames, joints, slots), np.float32)
    last = 0
    for entry in entries:
        index = int(entry["frame_index"])
        if not 0 <= index < frames:
            continue
        last = max(last, index + 1)
        for slot, person in enumerate(entry.get("skeleton", [])[:slots]):
            pose, score = np.asarray(person["pose"], np.float32), np.asarray(person["score"], np.float32)
            if pose.shape != (2 * joints,) or score.shape != (joints,):
                raise DatasetError(f"{path}: frame {index} has {pose.size // 2} joints, expected {joints}")
            data[0, index, :, slot], data[1, index, :, slot], data[2, index, :, slot] = pose[0::2], pose[1::2], score
    check_finite(data, str(path))
    data[0:2] -= 0.5
    data[0][data[2] == 0] = 0
    data[1][data[2] == 0] = 0
    return KineticsClip(rank_persons_per_frame(data)[..., :persons], last, own_label)


def rank_persons_per_frame(data: np.ndarray) -> np.ndarray:
    """(C, T, V, M) with, in every frame, the persons ordered by their summed score (highest
    first), as the reference feeder sorts them; ties keep their order."""
    order = np.argsort(-data[2].sum(axis=1), axis=1, kind="stable")  # (T, M)
    return np.ascontiguousarray(np.take_along_axis(data, order[None, :, None, :], axis=3))


def _check_labels(labels: dict, clips: list[Path], class_names: Sequence[str] | None, label_file: Path,
                  folder: Path) -> list[int]:
    """The label file's label indices, after checking it against the clips and ``class_names``."""
    if not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
        raise DatasetError(f"{label_file} is not a Kinetics label file ({{clip: {{label, label_index}}}})")
    if not any(path.stem in labels for path in clips):
        raise DatasetError(f"{label_file} names none of the {len(clips)} clips in {folder} (e.g. {clips[0].stem}); "
                           "give the label file of this folder (train and val have their own)")
    try:
        indices = [int(v["label_index"]) for v in labels.values() if "label_index" in v]
    except (TypeError, ValueError) as error:
        raise DatasetError(f"{label_file}: a label_index is not an integer ({error})") from None
    if not indices:
        raise DatasetError(f"{label_file} holds no label_index entries")
    named: dict[int, str] = {}
    for clip, entry in labels.items():
        if "label_index" not in entry or "label" not in entry:
            continue
        index, label = int(entry["label_index"]), str(entry["label"])
        if named.setdefault(index, label) != label:
            raise DatasetError(f"{label_file}: label_index {index} is called both {named[index]!r} and {label!r} "
                               f"(clip {clip}); the label file is inconsistent")
        if class_names is not None and index < len(class_names) and class_names[index] != label:
            raise DatasetError(f"{label_file}: clip {clip} is labelled {label!r} with label_index {index}, but the "
                               f"class names (--classes) call class {index} {class_names[index]!r}; give the class "
                               "names in label_index order")
    return indices


def import_kinetics(folder: str | Path, label_file: str | Path, output: str | Path,
                    class_names: Sequence[str] | None = None, split: str = "train", frames: int = 300,
                    persons: int = 2, append: bool = False) -> tuple[int, list[str]]:
    """Import a folder of Kinetics-skeleton JSON clips; returns (samples, clips skipped with reasons)."""
    folder, label_file = Path(folder), Path(label_file)
    try:
        labels = json.loads(label_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"cannot read the label file {label_file}: {error}") from None
    clips = sorted(folder.glob("*.json"))
    if not clips:
        raise DatasetError(f"no *.json clips in {folder}")
    indices = _check_labels(labels, clips, class_names, label_file, folder)
    if class_names is None:
        by_index = {int(v["label_index"]): v.get("label", f"class_{v['label_index']}") for v in labels.values()}
        class_names = [by_index.get(i, f"class_{i}") for i in range(max(indices) + 1)]
    classes = _class_names(class_names, max(indices) + 1, str(label_file))
    writer = DatasetWriter(output, "openpose_coco_18", classes, frames=frames, persons=persons,
                           coordinates="kinetics", append=append)
    skipped, count = [], 0
    try:
        for path in tqdm(clips, desc=f"import {split}", unit="clip"):
            entry = labels.get(path.stem)
            if entry is None or not entry.get("has_skeleton", True):
                skipped.append(f"{path.name}: {'not in the label file' if entry is None else 'has no skeleton'}")
                continue
            try:
                clip = read_kinetics_clip(path, frames, persons)
            except DatasetError as error:
                skipped.append(str(error))
                continue
            label = int(entry["label_index"])
            if clip.label_index is not None and clip.label_index != label:
                raise DatasetError(f"{path} says label_index {clip.label_index}, {label_file} says {label}: "
                                   "is it the label file of these clips?")
            writer.add(clip.data, SampleInfo(label=label, split=split, source=path.name, end_frame=clip.frames_used,
                                             num_frames=clip.frames_used))
            count += 1
            if count % CHUNK == 0:
                writer.flush()
        if count == 0:
            raise DatasetError(f"no clip of {folder} could be imported: {'; '.join(skipped[:3])}")
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return count, skipped
