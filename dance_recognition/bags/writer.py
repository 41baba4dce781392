"""Writing standard rosbag2 bags (MCAP or SQLite3) from serialized CDR messages, without ROS.

A thin layer over the rosbags writer (format version 9, as Jazzy/Kilted's ``ros2 bag record``):
it stores every topic with its ros2msg definition and RIHS01 hash (from ``typestore``, or the
ones the caller got from the publisher), its offered QoS profiles and ``cdr`` serialization,
and adds what a recorder needs:

- ``flush()``: makes everything written so far durable. MCAP: the pending chunk is closed and
  written and the file fsync'ed; SQLite3: the transaction is committed. The recorder calls it
  every ``flush_period_s``, which is the SIGKILL guarantee: after a ``kill -9`` the bag opens
  with this package's reader (which recovers a file without its footer/metadata.yaml, see
  ``reader``) and holds every message received up to the last flush.
- statistics per topic (messages, bytes, receive-time range, header stamps out of order).
- splitting, like ``ros2 bag record -b/-d``: with ``max_bytes`` or ``max_duration_s`` the bag is
  written as ``<name>_0.mcap``, ``<name>_1.mcap``... (``.db3`` for SQLite3). A file is closed
  (index and footer written: it is a complete bag file on its own) before the message that
  would take it past the size or duration goes into the next one; ``close`` writes one
  ``metadata.yaml`` listing every file (``relative_file_paths``, and ``files`` with each one's
  start, duration and message count). The size is the file's bytes on disk plus its pending
  chunk (MCAP) or the message bytes stored in it (SQLite3). Readers merge the files by time.

- a write error (full disk, file size limit): ``write``/``flush`` raise ``OSError`` or
  ``sqlite3.Error``; ``close`` then rolls the file back to the last durable point (the last
  successful ``flush``: MCAP file truncated there, SQLite transaction rolled back), restores the
  counts to that point and closes normally: index, footer, metadata.yaml. When even the MCAP
  index does not fit, earlier durable points are tried (each drops one flush period more); when
  none fits, the file stays a valid MCAP without index (every message up to the last durable
  point, readable with this package's recovery) and metadata.yaml is still written. A 1 MiB
  reserve file in the bag folder is deleted first, so a full disk has room for the index.

The rosbags writer's storage object (``Writer.storage``, pinned rosbags 0.11.9) is reached for
``flush`` and to start a split's file (rosbags writes one file per bag and flushes only at close).
"""
from __future__ import annotations

import copy
import os
import sqlite3
import struct
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.interfaces import Connection, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import CompressionMode, StoragePlugin, Writer, WriterError
from rosbags.rosbag2.metadata import dump_qos_v9

from dance_recognition.bags.errors import BagError
from dance_recognition.bags.typestore import writing_typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
FORMAT_VERSION = 9
_STAMP = struct.Struct("<iI")  # std_msgs/Header.stamp: first field of a little-endian CDR message
MIN_SPLIT_BYTES = 86016  # the smallest --max-bag-size `ros2 bag record` accepts
RESERVE_BYTES = 1 << 20  # freed on a write error: room for the index and metadata.yaml on a full disk
RESERVE_NAME = ".reserve"
DURABLE_POINTS = 8  # durable points kept to fall back on when the index does not fit after the last one
WRITE_ERRORS = (OSError, sqlite3.Error)


class _FileWriter:
    """An MCAP storage file written without a Python buffer, every write whole or an OSError.

    rosbags writes through a buffered file: after a failed write its buffer keeps bytes that a
    later flush would put anywhere, and a short write (the file size limit reached mid-record)
    passes silently. Unbuffered and checked, the file on disk is exactly what was written, and it
    can be cut back to a durable point. MCAP data goes to disk a chunk at a time, so the number
    of system calls is small.
    """

    def __init__(self, raw) -> None:
        self.raw = raw

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            written = self.raw.write(view)
            if not written:
                raise OSError(28, "No space left on device")
            view = view[written:]
        return total

    def tell(self) -> int:
        return self.raw.tell()

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.raw.fileno()

    def close(self) -> None:
        self.raw.close()

    def cut(self, size: int) -> None:
        """The file back to ``size`` bytes, writing from there on."""
        self.raw.truncate(size)
        self.raw.seek(size)


@dataclass
class _DurablePoint:
    """What was on disk at a successful flush, to roll back to after a write error."""

    size: int  # MCAP file bytes
    chunks: int  # MCAP chunk index records
    mcap: dict = field(default_factory=dict)  # MCAP counters
    writer: dict = field(default_factory=dict)  # rosbags Writer counters
    stats: dict = field(default_factory=dict)
    file: object = None


class _Closed:
    """Stands in for a storage file that could not be completed, so rosbags writes metadata.yaml."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def close(self, version: int, metadata: str) -> None:
        pass


class _FileFolder(type(Path())):
    """The bag folder, presented to a rosbags storage writer under another name.

    rosbags' storage writers name their file ``<folder>/<folder name>.<ext>``; a split file must be
    ``<folder>/<name>_<n>.<ext>``, so the folder is handed over with ``name`` answering that stem.
    """

    _stem: str | None = None

    @property
    def name(self) -> str:
        return self._stem if self._stem is not None else super().name


def _folder_named(folder: Path, stem: str) -> Path:
    named = _FileFolder(folder)
    named._stem = stem
    return named


@dataclass
class FileStats:
    """One storage file of a (split) bag, as metadata.yaml's ``files`` lists it."""

    path: str
    messages: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None

    def metadata(self) -> dict:
        start = self.first_ns or 0
        return {"path": self.path, "starting_time": {"nanoseconds_since_epoch": start},
                "duration": {"nanoseconds": max(0, (self.last_ns or start) - start)}, "message_count": self.messages}


def qos_profile(reliable: bool = True, transient_local: bool = False, depth: int = 0) -> Qos:
    """A rosbags QoS record as ``ros2 bag record`` stores it for a publisher's offered profile."""
    zero = QosTime(0, 0)
    return Qos(QosHistory.UNKNOWN if depth == 0 else QosHistory.KEEP_LAST, depth,
               QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
               QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
               zero, zero, QosLiveliness.AUTOMATIC, zero, False)


@dataclass
class TopicStats:
    msgtype: str
    messages: int = 0
    bytes: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    out_of_order: int = 0  # header stamps older than the previous one on this topic
    has_header: bool = False
    _last_stamp: int | None = None


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _qos_text(profiles: list[Qos]) -> str:
    """Offered QoS profiles as rosbags' writer stores them in a storage file (YAML block text)."""
    import yaml

    return yaml.safe_dump(dump_qos_v9(list(profiles)), default_flow_style=False).strip()


def check_split(max_bytes: int, max_duration_s: float) -> None:
    """One clear error for split limits ``ros2 bag record`` would refuse too (0 means no limit)."""
    if max_bytes < 0 or (0 < max_bytes < MIN_SPLIT_BYTES):
        raise BagError(f"max bag size {max_bytes} bytes: give 0 (no split) or at least {MIN_SPLIT_BYTES} bytes")
    if not max_duration_s >= 0 or max_duration_s == float("inf"):
        raise BagError(f"max bag duration {max_duration_s} s: give 0 (no split) or a positive number of seconds")


class BagWriter:
    """``add_topic`` then ``write`` raw CDR messages; ``close`` writes the index and metadata.yaml."""

    def __init__(self, path: str | Path, storage: str = "mcap", max_bytes: int = 0,
                 max_duration_s: float = 0.0) -> None:
        self.path = Path(path)
        if storage not in STORAGES:
            raise BagError(f"unknown storage {storage!r}; choose {' or '.join(STORAGES)}")
        if self.path.exists():
            raise BagError(f"{self.path} exists already; a bag is never overwritten: choose another name")
        check_split(max_bytes, max_duration_s)
        self.storage = storage
        self.max_bytes = int(max_bytes)
        self.max_duration_ns = int(max_duration_s * 1e9)
        self._writer = Writer(self.path, version=FORMAT_VERSION, storage_plugin=STORAGES[storage])
        self.files: list[FileStats] = []
        try:
            if self.splitting:
                self.path.mkdir(mode=0o755, parents=True)  # what Writer.open does, with the first split's name
                self._writer.storage = self._new_storage(0)
            else:
                self._writer.open()
        except (WriterError, OSError) as error:
            raise BagError(f"cannot create the bag {self.path}: {error}") from None
        self._connections: dict[str, Connection] = {}
        self.stats: dict[str, TopicStats] = {}
        self.closed = False
        self.failed = ""  # the write error that stopped this bag
        self.notes: list[str] = []  # what close() had to give up after a write error
        self._points: list[_DurablePoint] = []
        self._reserve = self.path / RESERVE_NAME
        with suppress(OSError), self._reserve.open("wb") as reserve:  # best effort: a disk too full for it
            os.posix_fallocate(reserve.fileno(), 0, RESERVE_BYTES)  # fails at the first write anyway
        self._start_file()

    @property
    def splitting(self) -> bool:
        return bool(self.max_bytes or self.max_duration_ns)

    def _new_storage(self, index: int):
        plugin = Writer.STORAGE_PLUGINS[STORAGES[self.storage]]
        return plugin(_folder_named(self.path, f"{self.path.name}_{index}"), CompressionMode.NONE)

    def _start_file(self) -> None:
        """Bookkeeping of a new storage file; an MCAP file is written unbuffered from here on."""
        storage = self._writer.storage
        if self.storage == "mcap" and not isinstance(storage.bio, _FileWriter):
            storage.bio = _FileWriter(storage.bio.detach())  # detach() writes the file header first
        self.files.append(FileStats(storage.path.name))
        self._points = []
        self._mark_durable()

    def _mark_durable(self) -> None:
        storage, writer = self._writer.storage, self._writer
        point = _DurablePoint(size=0, chunks=0, writer={"counts": dict(writer.counts), "min": writer.min_timestamp,
                                                        "max": writer.max_timestamp},
                              stats=copy.deepcopy(self.stats), file=copy.copy(self.files[-1]))
        if self.storage == "mcap":
            point.size, point.chunks = storage.bio.tell(), len(storage.chunks)
            point.mcap = {"channel_stats": dict(storage.channel_stats), "start": storage.message_start_time,
                          "end": storage.message_end_time}
        self._points = [*self._points[-(DURABLE_POINTS - 1):], point]

    def _roll_back(self, point: _DurablePoint) -> None:
        """Storage and counts as they were at ``point`` (the file on disk cut back to it)."""
        from collections import defaultdict
        from io import BytesIO

        from rosbags.rosbag2.storage_mcap import PendingChunk

        storage, writer = self._writer.storage, self._writer
        writer.counts = {cid: point.writer["counts"].get(cid, 0) for cid in writer.counts}
        writer.min_timestamp, writer.max_timestamp = point.writer["min"], point.writer["max"]
        self.stats = {topic: copy.deepcopy(point.stats[topic]) if topic in point.stats else
                      TopicStats(stats.msgtype, has_header=stats.has_header) for topic, stats in self.stats.items()}
        self.files[-1] = copy.copy(point.file)
        if self.storage == "mcap":
            storage.bio.cut(point.size)
            del storage.chunks[point.chunks:]
            storage.chunk = PendingChunk(2**63 - 1, 0, BytesIO(), defaultdict(list))
            storage.channel_stats = {cid: point.mcap["channel_stats"].get(cid, 0) for cid in storage.channel_stats}
            storage.message_start_time, storage.message_end_time = point.mcap["start"], point.mcap["end"]
        else:
            with suppress(sqlite3.Error):
                storage.conn.rollback()

    def add_topic(self, topic: str, msgtype: str, qos: list[Qos] | None = None, msgdef: str | None = None,
                  type_hash: str | None = None) -> None:
        """Registers a topic; the definition comes from the typestore unless given."""
        store = writing_typestore()
        if msgdef is None and msgtype not in store.fielddefs:
            raise BagError(f"no message definition for {msgtype} (topic {topic}): it is neither a standard ROS 2 type "
                           "nor one of this package's; it cannot be stored with its definition")
        if msgdef is None:
            msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
        if type_hash is None:
            type_hash = store.hash_rihs01(msgtype) if msgtype in store.fielddefs else ""
        try:
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=type_hash or "", offered_qos_profiles=qos or [])
        except WriterError as error:
            raise BagError(f"{self.path}: cannot add topic {topic}: {error}") from None
        first = store.fielddefs.get(msgtype, (None, [("", None)]))[1]
        has_header = bool(first) and str(first[0][1]).find("std_msgs/msg/Header") >= 0
        self.stats[topic] = TopicStats(msgtype, has_header=has_header)

    def has_topic(self, topic: str) -> bool:
        return topic in self._connections

    def write(self, topic: str, log_time_ns: int, data: bytes) -> None:
        """Stores one serialized message received at ``log_time_ns`` (ns since the epoch).

        A write error (``OSError``, ``sqlite3.Error``) is raised once; the bag then takes no more
        messages and ``close`` completes it up to the last durable point."""
        if self.failed:
            raise BagError(f"{self.path}: no more messages after the write error ({self.failed})")
        try:
            self._write(topic, int(log_time_ns), data)
        except WRITE_ERRORS as error:
            self.failed = _reason(error)
            raise

    def _write(self, topic: str, log_time_ns: int, data: bytes) -> None:
        current = self.files[-1]
        if self.splitting and current.messages and self._file_full(current, log_time_ns):
            self._split()
            current = self.files[-1]
        self._writer.write(self._connections[topic], log_time_ns, data)
        current.messages += 1
        current.bytes += len(data)
        current.first_ns = log_time_ns if current.first_ns is None else min(current.first_ns, log_time_ns)
        current.last_ns = log_time_ns if current.last_ns is None else max(current.last_ns, log_time_ns)
        stats = self.stats[topic]
        stats.messages += 1
        stats.bytes += len(data)
        stats.first_ns = log_time_ns if stats.first_ns is None else min(stats.first_ns, log_time_ns)
        stats.last_ns = log_time_ns if stats.last_ns is None else max(stats.last_ns, log_time_ns)
        if stats.has_header and len(data) >= 12:
            sec, nanosec = _STAMP.unpack_from(data, 4)
            stamp = sec * 1_000_000_000 + nanosec
            if stats._last_stamp is not None and stamp < stats._last_stamp:
                stats.out_of_order += 1
            stats._last_stamp = stamp if stats._last_stamp is None else max(stamp, stats._last_stamp)

    def _file_full(self, current: FileStats, log_time_ns: int) -> bool:
        """Whether the next message must go into a new file (``ros2 bag record -b/-d``)."""
        if self.max_duration_ns and current.first_ns is not None and log_time_ns - current.first_ns >= \
                self.max_duration_ns:
            return True
        if not self.max_bytes:
            return False
        storage = self._writer.storage
        size = storage.bio.tell() + storage.chunk.bio.tell() if self.storage == "mcap" else current.bytes
        return size >= self.max_bytes

    def _split(self) -> None:
        """Closes the current file (index, footer: complete on its own) and goes on in the next one,
        with every topic and definition registered again."""
        writer = self._writer
        writer.storage.close(FORMAT_VERSION, self._file_metadata(self.files[-1]))
        closed = writer.storage
        try:
            writer.storage = self._new_storage(len(self.files))
        except WRITE_ERRORS:
            writer.storage = _Closed(closed.path)  # every message is in the complete files before
            raise
        self._start_file()
        added: set[str] = set()
        for connection in writer.connections:
            if connection.msgtype not in added:
                writer.storage.add_msgtype(connection)
                added.add(connection.msgtype)
            writer.storage.add_connection(connection, _qos_text(connection.ext.offered_qos_profiles))

    def _file_metadata(self, file: FileStats) -> str:
        """The rosbag2 metadata a storage file carries of itself (MCAP metadata record, SQLite table)."""
        import yaml

        info = {"version": FORMAT_VERSION, "storage_identifier": self.storage, "relative_file_paths": [file.path],
                "files": [file.metadata()], "message_count": file.messages}
        return yaml.safe_dump(info, sort_keys=False).strip()

    def flush(self) -> None:
        """Makes every message written so far durable on disk (see the module docstring)."""
        storage = self._writer.storage
        if storage is None or self.failed:
            return
        try:
            if self.storage == "mcap":
                if storage.chunk.bio.tell():
                    storage.close_chunk()
                os.fsync(storage.bio.fileno())
            else:
                storage.conn.commit()
        except WRITE_ERRORS as error:
            self.failed = _reason(error)
            raise
        self._mark_durable()

    def close(self) -> None:
        """Writes the storage index and metadata.yaml; the bag is complete afterwards."""
        if self.closed:
            return
        self.closed = True
        self._reserve.unlink(missing_ok=True)  # room for the index and metadata.yaml
        if not self.failed:
            try:
                self._writer.close()
            except WRITE_ERRORS as error:
                if self._writer.storage is None:  # the storage file is complete; metadata.yaml failed
                    raise
                self.failed = _reason(error)
        if self.failed:
            self._close_after_failure()
        if self.splitting:
            self._write_split_metadata()

    def _close_after_failure(self) -> None:
        """Completes the bag up to the latest durable point whose index fits; see the module docstring."""
        if isinstance(self._writer.storage, _Closed):  # the next split file could not be created
            self._writer.close()
            return
        points = list(self._points)
        while points:
            self._roll_back(points.pop())
            try:
                self._writer.storage.close(FORMAT_VERSION, self._file_metadata(self.files[-1]))
                break
            except WRITE_ERRORS as error:
                reason = _reason(error)
        else:
            self._roll_back(self._points[-1])
            self.notes.append(f"{self.files[-1].path} could not be completed ({reason}): it holds every message up to "
                              "the last flush, without an index (`bag info`/`bag2dataset` recover it)")
        if self._points and self.files[-1].messages < self._points[-1].file.messages:
            self.notes.append(f"{self._points[-1].file.messages - self.files[-1].messages} message(s) of the last "
                              "second(s) dropped to make room for the index")
        storage = self._writer.storage
        if self.storage == "mcap":
            with suppress(OSError):
                storage.bio.close()
        else:
            with suppress(sqlite3.Error):
                storage.conn.close()
        self._writer.storage = _Closed(storage.path)
        self._writer.close()  # metadata.yaml, with the counts of what the file holds

    def _write_split_metadata(self) -> None:
        """metadata.yaml as ``ros2 bag record`` writes it for a split bag: every file, each one's span.

        rosbags' writer knows only its last file; its metadata.yaml is completed here (totals and
        topics are already right) and replaced atomically.
        """
        import yaml

        metadata = self.path / "metadata.yaml"
        document = yaml.safe_load(metadata.read_text())
        info = document["rosbag2_bagfile_information"]
        info["relative_file_paths"] = [file.path for file in self.files]
        info["files"] = [file.metadata() for file in self.files]
        temporary = metadata.with_suffix(".yaml.tmp")
        temporary.write_text(yaml.safe_dump(document, sort_keys=False))
        temporary.replace(metadata)

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.stats.values())

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.stats.values())

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
