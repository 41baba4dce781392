"""File-system helpers shared by every writer of datasets, checkpoints and reports.

``atomic_write`` is the one way this package replaces a file: readers see the old file or the
complete new one, never half of one, the new file gets the permissions any new file would get
(the umask, not ``mkstemp``'s private 0600), and no temporary file is left behind, not even one
from an earlier process killed while writing.
"""
from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from dance_recognition.errors import DanceRecognitionError

PARTIAL_SUFFIX = ".partial"


def current_umask() -> int:
    """The process umask, read from /proc without changing it (``os.umask`` can only be read by
    setting it, which races with other threads creating files meanwhile)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # no /proc (not Linux): the only other way
    os.umask(mask)
    return mask


def _remove_leftovers(path: Path) -> None:
    """Temporaries of ``path`` left by a process killed while writing it."""
    for leftover in path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}"):
        leftover.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None], mode: int = 0o666) -> Path:
    """Calls ``write(file)`` on a temporary file beside ``path``, fsyncs it, gives it ``mode``
    less the umask and renames it over ``path``. On any error the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


class OutputError(DanceRecognitionError):
    """A file could not be written (disk full, file-size limit, folder removed): the path and the fix."""


_FULL = {os.strerror(errno.ENOSPC), os.strerror(errno.EFBIG), os.strerror(errno.EDQUOT)}  # no room left


def _reason(error: BaseException) -> str:
    """The operating system's reason behind ``error``: torch.save reports a failed write as a
    RuntimeError ("enforce fail at inline_container.cc") raised while handling the OSError that
    says what happened (``File too large``, ``No space left on device``)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        cause = cause.__cause__ or cause.__context__
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def write_output(path: str | os.PathLike, write: Callable[[BinaryIO], None], what: str) -> Path:
    """``atomic_write``, with any failure to write turned into one line (``OutputError``) naming
    the file, the reason and the fix. The previous file of that name, if any, is left as it was
    and no partial file stays behind."""
    path = Path(path)
    try:
        return atomic_write(path, write)
    except (OSError, RuntimeError) as error:  # torch.save turns a failed write into RuntimeError
        reason = _reason(error)
        fix = "free some space or choose another output folder" if reason in _FULL else "choose another output folder"
        raise OutputError(f"cannot write the {what} {path} ({reason}): {fix}; an earlier {path.name} there is "
                          "unchanged") from None


def check_output_file(path: str | os.PathLike, what: str, inputs: Sequence[str | os.PathLike] = ()) -> Path:
    """One clear line (DanceRecognitionError) when ``path`` cannot become a new file: it is a
    folder, it is one of the command's ``inputs`` (writing would destroy the file being read), a
    file stands where its folder should be, or the folder is not writable. A missing folder is
    created (as every writer of this package does)."""
    path = Path(path)
    if path.is_dir():
        raise DanceRecognitionError(f"the {what} {path} is a folder; give a file name")
    for source in inputs:
        if path.exists() and Path(source).exists() and os.path.samefile(path, source):
            raise DanceRecognitionError(f"the {what} {path} is the input {source}: writing it would destroy the "
                                        "input; give another file name")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DanceRecognitionError(f"the {what} {path} cannot be written: a file stands in its folder "
                                    f"path {folder}") from None
    except OSError as error:
        raise DanceRecognitionError(f"cannot create the folder {folder} for the {what}: {error.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DanceRecognitionError(f"the {what} {path} cannot be written: no permission to write in {folder}")
    return path
