"""Message types for reading and writing bags without ROS: the rosbags typestore.

Writing: the standard ROS 2 Kilted types plus this package's own types, parsed from its
``msg/*.msg`` files, so a bag stores the same definitions (ros2msg text, RIHS01 hash) a
``ros2 bag record`` of this package's topics would.

Reading: the definitions stored IN the bag win. A bag recorded before a message changed keeps
decoding with the definition it was written with; this package's current ``msg/`` files (and
the Kilted types) only fill in for types a bag stores no definition of (old sqlite3 bags).
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from rosbags.interfaces import Connection, MessageDefinitionFormat
from rosbags.typesys import Stores, TypesysError, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from dance_recognition.bags.errors import BagError

PACKAGE = "dance_recognition"
SEPARATOR = "=" * 80 + "\n"


def msg_dirs() -> list[Path]:
    """Where this package's .msg files are, best first: installed share/, then the source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory(PACKAGE)) / "msg")
    except (ImportError, LookupError, OSError):  # no sourced workspace: the venv prefix or the source tree
        pass
    candidates.append(Path(sys.prefix) / "share" / PACKAGE / "msg")
    candidates.append(Path(__file__).resolve().parents[2] / "msg")
    return [path for path in candidates if path.is_dir() and any(path.glob("*.msg"))]


def package_types() -> dict:
    """This package's message types as a rosbags types dict, parsed from msg/*.msg."""
    folders = msg_dirs()
    if not folders:
        raise BagError(f"the {PACKAGE} message definitions (msg/*.msg) are not installed: run scripts/setup.sh "
                       "(or colcon build) so bags can be written and read")
    types: dict = {}
    for path in sorted(folders[0].glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{PACKAGE}/msg/{path.stem}"))
    return types


@lru_cache(maxsize=1)
def writing_typestore() -> Typestore:
    """Kilted's standard types plus this package's current ones (cached: parsing takes ~50 ms)."""
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(package_types())
    return store


def definition_types(connection: Connection) -> dict:
    """The types dict of the definition a bag stores for ``connection`` (empty when none)."""
    definition = connection.msgdef
    if definition.format == MessageDefinitionFormat.MSG and definition.data.strip():
        return get_types_from_msg(definition.data, connection.msgtype)
    if definition.format == MessageDefinitionFormat.IDL and definition.data.strip():
        types: dict = {}
        parts = definition.data.split(SEPARATOR)[1:] if definition.data.startswith(SEPARATOR) else [definition.data]
        for part in parts:
            types.update(get_types_from_idl(part.split("\n", 1)[1] if part.startswith("IDL: ") else part))
        return types
    return {}


def reading_typestore(connections: Iterable[Connection], bag: str) -> tuple[Typestore, set[str]]:
    """A typestore for one bag, and the message types it cannot decode.

    The bag's stored definitions first; every type still missing (no stored definition, or a
    nested type not included) from this package's and Kilted's current definitions.
    """
    types: dict = {}
    for connection in connections:
        try:
            types.update(definition_types(connection))
        except TypesysError as error:
            raise BagError(f"{bag}: the stored definition of {connection.msgtype} (topic {connection.topic}) "
                           f"cannot be parsed ({error}); the bag was written by a broken recorder") from None
    fallback = dict(writing_typestore().fielddefs)
    store = get_typestore(Stores.EMPTY)
    # nested types referenced by a stored definition but not stored with it come from the fallback
    pending = dict(types)
    for name, definition in fallback.items():
        pending.setdefault(name, definition)
    try:
        store.register(pending)
    except TypesysError as error:
        raise BagError(f"{bag}: conflicting message definitions ({error})") from None
    wanted = {connection.msgtype for connection in connections}
    return store, {name for name in wanted if name not in store.fielddefs}
