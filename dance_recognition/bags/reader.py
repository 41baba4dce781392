"""Opening any rosbag2 bag (this package's or any robot's ``ros2 bag record``), ROS-free.

``open_bag(path)`` accepts a bag folder (``metadata.yaml`` + ``.mcap``/``.db3`` files) or a
single ``.mcap``/``.db3`` file, and always either returns a readable :class:`Bag` or raises one
:class:`BagError` naming the bag, the problem and the fix. Damage is recovered where possible,
and ``Bag.notes`` says what was done and how much was read:

- ``metadata.yaml`` missing or corrupt (a recorder killed before it wrote it, a hand edit):
  the storage files in the folder are read directly;
- an ``.mcap`` file without its summary and footer (a recorder killed mid-write, a truncated
  copy): every complete record up to the damage is read with the MCAP stream reader;
- a damaged ``.db3`` file: the rows SQLite can still read, in id order.

Messages come back raw (CDR bytes, the receive stamp ``log_time_ns``); ``Bag.decode`` turns
one into a message object with the definitions stored in the bag (see ``typestore``).
"""
from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.interfaces import Connection, ConnectionExtRosbag2, MessageDefinition, MessageDefinitionFormat
from rosbags.rosbag2 import Reader, ReaderError
from rosbags.rosbag2.metadata import parse_qos
from rosbags.serde import SerdeError

from dance_recognition.bags.errors import BagError
from dance_recognition.bags.typestore import reading_typestore

STORAGE_SUFFIXES = {".mcap": "mcap", ".db3": "sqlite3"}


@dataclass
class TopicSummary:
    """One topic of a bag: its type, how many messages, and the QoS its publishers offered."""

    name: str
    msgtype: str
    count: int = 0
    serialization_format: str = "cdr"
    qos: list = field(default_factory=list)  # rosbags Qos profiles
    first_ns: int | None = None  # receive stamps of the first and last message, when known
    last_ns: int | None = None


@dataclass(frozen=True)
class BagMessage:
    """One message as stored: raw CDR ``data``, received at ``log_time_ns`` (ns since the epoch)."""

    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


class _Source:
    """One readable unit: a rosbags reader (folder or file), or a recovered damaged file."""

    connections: list[Connection]
    storage: str
    path: Path  # the storage file (a compressed bag: its folder)

    def messages(self, topics: set[str] | None) -> Iterator[tuple[Connection, int, bytes]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _RosbagsSource(_Source):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.reader = Reader(path)
        self.reader.open()
        self.connections = list(self.reader.connections)
        files = [path] if path.is_file() else _storage_files(path)
        self.storage = STORAGE_SUFFIXES.get(files[0].suffix, "?") if files else "?"

    def messages(self, topics: set[str] | None) -> Iterator[tuple[Connection, int, bytes]]:
        chosen = [c for c in self.connections if topics is None or c.topic in topics]
        if chosen:
            yield from self.reader.messages(connections=chosen)

    def close(self) -> None:
        with suppress(Exception):
            self.reader.close()


class _RecoveredMcap(_Source):
    """Every complete record of an MCAP file up to the first damage, in file order."""

    storage = "mcap"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = []
        self.read_messages = 0
        self.damage = ""
        for _ in self.messages(None):
            self.read_messages += 1

    def messages(self, topics: set[str] | None) -> Iterator[tuple[Connection, int, bytes]]:
        from mcap.exceptions import McapError
        from mcap.records import Channel, Message, Schema
        from mcap.stream_reader import StreamReader

        schemas: dict[int, Schema] = {}
        channels: dict[int, Connection] = {}
        known = {c.id: c for c in self.connections}
        with self.path.open("rb") as stream:
            try:
                for record in StreamReader(stream, record_size_limit=2**31).records:
                    if isinstance(record, Schema):
                        schemas[record.id] = record
                    elif isinstance(record, Channel):
                        connection = known.get(record.id) or _mcap_connection(record, schemas.get(record.schema_id))
                        channels[record.id] = connection
                        if record.id not in known:
                            known[record.id] = connection
                            self.connections.append(connection)
                    elif isinstance(record, Message):
                        connection = channels.get(record.channel_id)
                        if connection is not None and (topics is None or connection.topic in topics):
                            yield connection, record.log_time, record.data
            except (McapError, ValueError, EOFError, OSError, IndexError, KeyError) as error:
                self.damage = str(error) or type(error).__name__
            except Exception as error:
                self.damage = f"{type(error).__name__}: {error}"


def _mcap_connection(channel, schema) -> Connection:
    text = schema.data.decode() if schema is not None else ""
    encoding = schema.encoding if schema is not None else ""
    formats = {"ros2msg": MessageDefinitionFormat.MSG, "ros2idl": MessageDefinitionFormat.IDL}
    qos_text = channel.metadata.get("offered_qos_profiles", "")
    try:
        qos = parse_qos(qos_text) if qos_text else []
    except Exception:
        qos = []
    return Connection(id=channel.id, topic=channel.topic, msgtype=schema.name if schema is not None else "",
                      msgdef=MessageDefinition(formats.get(encoding, MessageDefinitionFormat.NONE), text),
                      digest="", msgcount=0,
                      ext=ConnectionExtRosbag2(serialization_format=channel.message_encoding,
                                               offered_qos_profiles=qos), owner=None)


class _RecoveredSqlite(_Source):
    """The rows of a damaged .db3 that SQLite can still read, in id order."""

    storage = "sqlite3"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.damage = ""
        self._copy = _sqlite_with_true_size(path)
        try:
            self.db = sqlite3.connect(f"file:{self._copy}?mode=ro", uri=True)
            rows = self.db.execute("SELECT id, name, type, serialization_format FROM topics").fetchall()
        except sqlite3.DatabaseError as error:
            self._copy.unlink(missing_ok=True)
            raise BagError(f"{path}: not a readable SQLite bag ({error}); nothing can be recovered") from None
        definitions = {}
        with suppress(sqlite3.DatabaseError):
            for topic_type, encoding, text in self.db.execute(
                    "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions"):
                kind = MessageDefinitionFormat.MSG if encoding == "ros2msg" else MessageDefinitionFormat.IDL
                definitions[topic_type] = MessageDefinition(kind, text)
        self.connections = [
            Connection(id=cid, topic=name, msgtype=msgtype,
                       msgdef=definitions.get(msgtype, MessageDefinition(MessageDefinitionFormat.NONE, "")),
                       digest="", msgcount=0, ext=ConnectionExtRosbag2(serialization_format=fmt,
                                                                     offered_qos_profiles=[]), owner=None)
            for cid, name, msgtype, fmt in rows
        ]
        self.read_messages = sum(1 for _ in self.messages(None))

    def messages(self, topics: set[str] | None) -> Iterator[tuple[Connection, int, bytes]]:
        by_id = {c.id: c for c in self.connections if topics is None or c.topic in topics}
        last_id, batch = 0, 256
        while True:
            try:
                rows = self.db.execute("SELECT id, topic_id, timestamp, data FROM messages WHERE id > ? "
                                       "ORDER BY id LIMIT ?", (last_id, batch)).fetchall()
            except sqlite3.DatabaseError as error:
                if batch > 1:
                    batch = 1  # near the damage: row by row, to keep every readable one
                    continue
                self.damage = str(error)
                return
            if not rows:
                return
            for row_id, topic_id, stamp, data in rows:
                last_id = row_id
                if topic_id in by_id:
                    yield by_id[topic_id], stamp, bytes(data)

    def close(self) -> None:
        self.db.close()
        self._copy.unlink(missing_ok=True)


def _sqlite_with_true_size(path: Path) -> Path:
    """A temporary copy of a SQLite file whose header states the page count the file really has.

    SQLite refuses a whole database whose header promises more pages than the file holds (a
    truncated copy, a disk that filled up); with the count corrected, every page still present
    is readable.
    """
    import tempfile

    data = bytearray(path.read_bytes())
    if len(data) >= 100 and data[:16] == b"SQLite format 3\x00":
        page_size = int.from_bytes(data[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size:
            data[28:32] = (len(data) // page_size).to_bytes(4, "big")
            data = data[: (len(data) // page_size) * page_size]
    with tempfile.NamedTemporaryFile(prefix="recovered-", suffix=".db3", delete=False) as f:
        f.write(data)
    return Path(f.name)


def _open_file(path: Path, notes: list[str]) -> _Source:
    """A storage file read through rosbags, or recovered when rosbags refuses it as damaged."""
    try:
        source = _RosbagsSource(path)
        if source.storage == "sqlite3":
            # an interrupted write can leave a database whose index opens but whose rows do not
            sum(1 for _ in source.messages(None))
        return source
    except (ReaderError, sqlite3.DatabaseError, OSError) as error:
        reason = str(error)
    recovered: _Source
    if path.suffix == ".mcap":
        recovered = _RecoveredMcap(path)
        if not recovered.connections:
            raise BagError(f"{path}: not a readable MCAP file ({reason}); nothing could be recovered")
    else:
        recovered = _RecoveredSqlite(path)
    size = path.stat().st_size
    notes.append(f"{path.name} is damaged or was not closed ({reason}): recovered {recovered.read_messages} "
                 f"message(s) from its {size} bytes" + (f", reading stopped at: {recovered.damage}"
                                                        if recovered.damage else ""))
    return recovered


def _storage_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in STORAGE_SUFFIXES and p.is_file())


def _read_metadata(metadata: Path) -> tuple[dict | None, str]:
    """The rosbag2_bagfile_information of a metadata.yaml, or None and what is wrong with it."""
    import yaml

    try:
        info = yaml.safe_load(metadata.read_text())["rosbag2_bagfile_information"]
        missing = [key for key in ("version", "storage_identifier", "relative_file_paths") if key not in info]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, TypeError, KeyError) as error:
        detail = str(error).splitlines()[0] if str(error) else ""
        return None, f"metadata.yaml is corrupt ({type(error).__name__}: {detail})"
    if missing:
        return None, f"metadata.yaml lacks {', '.join(missing)}"
    files = info["relative_file_paths"]
    if files is not None and (not isinstance(files, list) or not all(isinstance(f, str) for f in files)):
        return None, "metadata.yaml is corrupt (relative_file_paths is not a list of file names)"
    return info, ""


def _open_sources(path: Path) -> tuple[list[_Source], list[str]]:
    """Storage files are read one by one (rosbags' folder reader matches files to metadata.yaml by
    QoS and finds no message in some real ``ros2 bag record`` bags); metadata.yaml says which files
    belong to the bag, and is only needed for compressed bags."""
    notes: list[str] = []
    if not path.exists():
        raise BagError(f"{path}: no such bag (give a rosbag2 folder with metadata.yaml, or a .mcap/.db3 file)")
    if path.is_file():
        if path.suffix not in STORAGE_SUFFIXES:
            raise BagError(f"{path}: not a bag (expected a rosbag2 folder, or a .mcap or .db3 file)")
        return [_open_file(path, notes)], notes
    metadata = path / "metadata.yaml"
    info, problem = _read_metadata(metadata) if metadata.is_file() else (
        None, "metadata.yaml is missing (the recorder was killed before writing it?)")
    if info is not None and str(info.get("compression_mode") or "").lower() not in ("", "none"):
        try:
            return [_RosbagsSource(path)], notes
        except (ReaderError, OSError) as error:
            raise BagError(f"{path}: compressed bag cannot be read ({error})") from None
    if info is not None:
        files = [path / Path(name).name for name in info["relative_file_paths"] or []]
        missing = [f.name for f in files if not f.is_file()]
        files = [f for f in files if f.is_file() and f.suffix in STORAGE_SUFFIXES]
        if not files and _storage_files(path):  # renamed or copied storage files: read what the folder holds
            files = _storage_files(path)
            notes.append(f"metadata.yaml names only missing file(s) {', '.join(missing) or '(none)'}: read "
                         f"{', '.join(f.name for f in files)} directly (`ros2 bag reindex` rebuilds metadata.yaml)")
        elif missing:
            notes.append(f"metadata.yaml lists missing file(s) {', '.join(missing)}: read the others")
    else:
        files = _storage_files(path)
        if files:
            notes.append(f"{problem}: read {', '.join(f.name for f in files)} directly "
                         "(`ros2 bag reindex` rebuilds metadata.yaml for ROS tools)")
    if not files:
        raise BagError(f"{path}: {problem or 'metadata.yaml lists no existing file'}, and the folder holds no .mcap or "
                       ".db3 file: not a bag")
    return [_open_file(file, notes) for file in files], notes


@dataclass
class Bag:
    """An open bag. Use as a context manager, or call ``close()``."""

    path: Path
    storage: str
    topics: dict[str, TopicSummary]
    notes: list[str]
    _sources: list[_Source]
    _typestore: object = None
    _undecodable: set[str] = field(default_factory=set)

    @property
    def files(self) -> list[str]:
        """The storage files read, in metadata.yaml's order (several for a split bag)."""
        return [source.path.name for source in self._sources]

    @property
    def message_count(self) -> int:
        return sum(topic.count for topic in self.topics.values())

    @property
    def start_ns(self) -> int | None:
        stamps = [t.first_ns for t in self.topics.values() if t.first_ns is not None]
        return min(stamps) if stamps else None

    @property
    def end_ns(self) -> int | None:
        stamps = [t.last_ns for t in self.topics.values() if t.last_ns is not None]
        return max(stamps) if stamps else None

    @property
    def duration_s(self) -> float:
        if self.start_ns is None or self.end_ns is None:
            return 0.0
        return (self.end_ns - self.start_ns) / 1e9

    def topics_of_type(self, *msgtypes: str) -> list[str]:
        return sorted(name for name, topic in self.topics.items() if topic.msgtype in msgtypes)

    def describe_topics(self) -> str:
        """``/a (pkg/msg/T), /b (...)``: what a user needs to pick another topic."""
        if not self.topics:
            return "none"
        return ", ".join(f"{name} ({topic.msgtype})" for name, topic in sorted(self.topics.items()))

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
        """Raw messages of ``topics`` (all when None), in receive-time order."""
        wanted = None if topics is None else set(topics)

        def of(source: _Source) -> Iterator[BagMessage]:
            for connection, stamp, data in source.messages(wanted):
                yield BagMessage(connection.topic, connection.msgtype, stamp, bytes(data))

        if len(self._sources) == 1:
            yield from of(self._sources[0])
        else:  # split bags: the files' messages interleaved by receive time
            yield from heapq.merge(*(of(source) for source in self._sources), key=lambda m: m.log_time_ns)

    def _store(self):
        if self._typestore is None:
            connections = [c for s in self._sources for c in s.connections]
            self._typestore, self._undecodable = reading_typestore(connections, str(self.path))
        return self._typestore

    def check_decodable(self, topic: str) -> None:
        """Raises BagError when the bag holds no usable definition of ``topic``'s type."""
        self._store()
        msgtype = self.topics[topic].msgtype
        if msgtype in self._undecodable:
            raise BagError(f"{self.path}: topic {topic} has type {msgtype}, which is neither defined in the bag nor "
                           "known to this package; record it with its message definitions")

    def decode(self, message: BagMessage) -> object:
        """The message object (rosbags dataclass: same field names as the ROS message)."""
        store = self._store()
        try:
            return store.deserialize_cdr(message.data, message.msgtype)
        except (SerdeError, AssertionError, ValueError, IndexError, KeyError) as error:
            raise BagError(f"{self.path}: a {message.msgtype} message on {message.topic} at "
                           f"{message.log_time_ns} ns cannot be decoded ({error or type(error).__name__})") from None

    def close(self) -> None:
        for source in self._sources:
            source.close()
        self._sources = []

    def __enter__(self) -> Bag:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _summaries(sources: list[_Source], scan: bool) -> dict[str, TopicSummary]:
    topics: dict[str, TopicSummary] = {}
    for source in sources:
        for connection in source.connections:
            ext = connection.ext
            summary = topics.setdefault(connection.topic, TopicSummary(
                connection.topic, connection.msgtype,
                serialization_format=getattr(ext, "serialization_format", "cdr"),
                qos=list(getattr(ext, "offered_qos_profiles", []) or [])))
            if not scan:
                summary.count += connection.msgcount
    if scan:
        for source in sources:
            for connection, stamp, _ in source.messages(None):
                summary = topics[connection.topic]
                summary.count += 1
                summary.first_ns = stamp if summary.first_ns is None else min(summary.first_ns, stamp)
                summary.last_ns = stamp if summary.last_ns is None else max(summary.last_ns, stamp)
    return topics


def open_bag(path: str | Path, scan: bool = True) -> Bag:
    """Opens and (``scan``) counts every topic's messages and first/last receive stamps.

    Raises BagError with one line naming the bag and the problem; damage that could be worked
    around is reported in ``Bag.notes`` instead.
    """
    path = Path(path)
    try:
        sources, notes = _open_sources(path)
    except (ReaderError, OSError) as error:
        raise BagError(f"{path}: cannot be read ({error})") from None
    storage = ",".join(sorted({s.storage for s in sources}))
    try:
        topics = _summaries(sources, scan)
    except (ReaderError, sqlite3.DatabaseError, OSError) as error:
        for source in sources:
            source.close()
        raise BagError(f"{path}: reading the messages failed ({error})") from None
    return Bag(path=path, storage=storage, topics=topics, notes=notes, _sources=sources)
