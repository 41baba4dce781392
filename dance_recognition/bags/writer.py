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

The rosbags writer's storage object (``Writer.storage``, pinned rosbags 0.11.9) is reached for
``flush`` only: rosbags itself flushes only at close.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from rosbags.interfaces import Connection, Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

from dance_recognition.bags.errors import BagError
from dance_recognition.bags.typestore import writing_typestore

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
FORMAT_VERSION = 9
_STAMP = struct.Struct("<iI")  # std_msgs/Header.stamp: first field of a little-endian CDR message


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


class BagWriter:
    """``add_topic`` then ``write`` raw CDR messages; ``close`` writes the index and metadata.yaml."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        self.path = Path(path)
        if storage not in STORAGES:
            raise BagError(f"unknown storage {storage!r}; choose {' or '.join(STORAGES)}")
        if self.path.exists():
            raise BagError(f"{self.path} exists already; a bag is never overwritten: choose another name")
        self.storage = storage
        self._writer = Writer(self.path, version=FORMAT_VERSION, storage_plugin=STORAGES[storage])
        try:
            self._writer.open()
        except (WriterError, OSError) as error:
            raise BagError(f"cannot create the bag {self.path}: {error}") from None
        self._connections: dict[str, Connection] = {}
        self.stats: dict[str, TopicStats] = {}
        self.closed = False

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
        """Stores one serialized message received at ``log_time_ns`` (ns since the epoch)."""
        self._writer.write(self._connections[topic], int(log_time_ns), data)
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

    def flush(self) -> None:
        """Makes every message written so far durable on disk (see the module docstring)."""
        storage = self._writer.storage
        if storage is None:
            return
        if self.storage == "mcap":
            if storage.chunk.bio.tell():
                storage.close_chunk()
            storage.bio.flush()
            os.fsync(storage.bio.fileno())
        else:
            storage.conn.commit()

    def close(self) -> None:
        """Writes the storage index and metadata.yaml; the bag is complete afterwards."""
        if self.closed:
            return
        self.closed = True
        self._writer.close()

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
