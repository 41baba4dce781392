"""Class names of a model: read from a file (one name a line) and compared with one clear line.

Published reference checkpoints carry no class names, and an ST-GCN trained on Kinetics has 400 of
them: a user names them with a file (``../shared/data/kinetics400_labels.txt``), and a mismatch is
described by its first difference, never by printing 800 names.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dance_recognition.errors import DanceRecognitionError


class ClassNamesError(DanceRecognitionError):
    """A class-name file that cannot be used."""


def read_class_names(path: str | os.PathLike | None) -> list[str] | None:
    """The non-empty lines of ``path`` (stripped), in order; None when no path is given."""
    if path is None or str(path) == "":
        return None
    path = Path(path)
    try:
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except IsADirectoryError:
        raise ClassNamesError(f"{path} is a folder; give a text file with one class name a line") from None
    except OSError as error:
        raise ClassNamesError(f"cannot read class names from {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ClassNamesError(f"{path} is not a UTF-8 text file of class names (one a line)") from None
    if not names:
        raise ClassNamesError(f"{path} holds no class names (one a line)")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ClassNamesError(f"{path} names a class twice: {', '.join(repeated[:5])}")
    return names


def placeholder_names(count: int) -> list[str]:
    """The names given to classes nobody named (reference checkpoints, unnamed imports)."""
    return [f"class_{i}" for i in range(count)]


def describe_difference(have: Sequence[str], given: Sequence[str]) -> str:
    """'5 classes vs 400' or 'first difference at 3: "salsa" vs "tango"', short whatever the lists."""
    if len(have) != len(given):
        return f"{len(have)} classes vs {len(given)}"
    for index, (a, b) in enumerate(zip(have, given, strict=True)):
        if a != b:
            others = sum(x != y for x, y in zip(have, given, strict=True)) - 1
            more = f" (and {others} more)" if others else ""
            return f"first difference at class {index}: {a!r} vs {b!r}{more}"
    return "the same names"
