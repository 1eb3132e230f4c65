"""The records of the entry cache and their bytes: what one record holds, what the
cached objects depend on (the fingerprint of the code that made them), a digest of
what the records say, and the pickles they travel in, read back with nothing but the
models' own classes allowed.
"""

from __future__ import annotations

import gc
import hashlib
import io
import pickle
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any, NamedTuple

import cmarkgfm
import nh3
import pydantic
import pydantic_core
from pydantic import BaseModel

from medfeed.crc import crc32
from medfeed.errors import CacheDamaged
from medfeed.filestate import Signature
from medfeed.models import Entry
from medfeed.storedentry import AnyEntry, Head, StoredEntry, same_entry

MAGIC = b"medfeed entry cache 3\n"


# Named tuples, not frozen dataclasses: a restart makes one of each per entry file, and
# a tuple is made without a Python-level __init__.
class Version(NamedTuple):
    """One valid version of an entry file: the entry, its file's mtime, its HTML if made."""

    entry: AnyEntry
    modified_ns: int
    html: str | None = None


class Ref(NamedTuple):
    """An entry as the records name it in the file: its head, and where its pickle is
    (written as a persistent id: see ``RecordPickler``)."""

    head: Head
    offset: int
    length: int
    crc: int


class Record(NamedTuple):
    """What the cache holds of one entry file."""

    signature: Signature | None
    """The signature ``current`` was read under; None where no version is cached."""
    current: Version | None
    published: Version | None
    """The version readers were last given: ``current`` itself where it is that one."""


def same_as_before(record: Record | None, entry: AnyEntry) -> Version | None:
    """The cache's version of a file whose signature changed that says what the file
    says (touched, copied, checked out again): the one read under its old signature,
    else the one readers were given. Every process dates the file by it, as the one
    that saw the touch does (it keeps what the file held)."""
    if record is not None:
        for version in (record.current, record.published):
            if version is not None and same_entry(version.entry, entry):
                return version
    return None


_ALLOWED = frozenset(
    {
        ("medfeed.cachecodec", "Version"),
        ("medfeed.cachecodec", "Record"),
        ("medfeed.storedentry", "Head"),
        ("datetime", "date"),
        ("datetime", "datetime"),
        ("datetime", "timezone"),
        ("datetime", "timedelta"),
        ("pydantic_core._pydantic_core", "TzInfo"),
        ("pydantic_core._pydantic_core", "Url"),
        ("pydantic.networks", "HttpUrl"),
    }
)
_MODEL_MODULES = frozenset({"medfeed.models", "medfeed.fields"})


@contextmanager
def gc_paused(*, promote: bool = True) -> Iterator[None]:
    """Pause the cyclic garbage collector while many objects are made, none in a cycle.

    Loading thousands of entries allocates a dozen objects each; the collector would
    walk the growing heap again and again, for a third of the time (twice the time of
    writing the cache). ``promote``: what was made lives on (see below).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if promote:
            # Straight to the oldest generation, as if they had survived collections,
            # so that the first allocations afterwards do not walk them all twice more.
            # Cycles among them are still found, by the next full collection.
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def code_fingerprint() -> str:
    """What the cached objects depend on: medfeed's code and the libraries that made them.

    Any change to medfeed's source (a new field, a stricter rule, another sanitiser
    list) or to the versions of pydantic, cmark-gfm, nh3 or Python makes a new cache.
    """
    digest = hashlib.sha256(MAGIC + sys.version.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for module in (pydantic, pydantic_core, nh3, cmarkgfm):
        version = getattr(module, "VERSION", None) or getattr(module, "__version__", "?")
        digest.update(f"{module.__name__}={version}\0".encode())
    return digest.hexdigest()


def state_digest(records: Mapping[str, Record]) -> str:
    """What the records say, less their HTML: equal digests, nothing new to write."""
    digest = hashlib.sha256()
    for name in sorted(records):
        signature, current, published = records[name]
        if published is None:
            shown = "-"
        elif published is current:
            shown = "="
        else:
            # Rare (a broken file's fallback, a version too new to cache): hash it whole.
            data = entry_bytes(published.entry) + str(published.modified_ns).encode()
            shown = hashlib.sha256(data).hexdigest()
        digest.update(f"{name}\0{signature}\0{current is not None}\0{shown}\n".encode())
    return digest.hexdigest()


def entry_bytes(entry: AnyEntry) -> bytes:
    """An entry's pickle: as the cache file it lies in holds it, or made now."""
    if isinstance(entry, StoredEntry):
        return entry.raw()
    return pickle.dumps(entry, pickle.HIGHEST_PROTOCOL)


def content_tag(entry: AnyEntry) -> tuple[int, int]:
    """The length and CRC-32 of an entry's pickle: what tells two entries of one file
    and one mtime apart (a stored one's is known without reading it back). Equal
    entries pickled alike have equal tags, wherever they lie."""
    if isinstance(entry, StoredEntry):
        return entry.check
    data = entry_bytes(entry)
    return len(data), crc32(data)


def decode_entry(data: bytes) -> Entry:
    """One entry's pickle, read back with nothing but the models' classes allowed.

    Raises:
        CacheDamaged: anything but an entry.
    """
    try:
        entry = _ModelUnpickler(io.BytesIO(data)).load()
    except Exception as e:  # noqa: BLE001 - whatever a foreign pickle fails with
        raise CacheDamaged(f"an entry in the cache cannot be read ({type(e).__name__})") from e
    if type(entry) is not Entry:
        raise CacheDamaged("the cache holds something other than an entry")
    return entry


def decode(chunk: bytes, place: Callable[[Any], StoredEntry]) -> dict[str, Record]:
    """The records of one pickle, checked to hold what ``encode`` writes; ``place``
    makes each entry the records name (a persistent id: its head and where it lies).

    Raises:
        pickle.UnpicklingError: a class other than the models' and their fields' types.
        ValueError: anything else than records of entries.
    """
    records = _ModelUnpickler(io.BytesIO(chunk), place).load()
    if type(records) is not dict:
        raise ValueError("a chunk holds no records")
    for name, record in records.items():
        if type(name) is not str or "/" in name or type(record) is not Record:
            raise ValueError("a chunk holds something other than records")
        signature, current, published = record
        for version in (current, published):
            if version is not None and (
                type(version) is not Version or type(version.entry) is not StoredEntry
            ):
                raise ValueError(f"{name}: a record holds something other than an entry")
        if current is not None and type(signature) is not tuple:
            raise ValueError(f"{name}: a cached version without a signature")
    return records


class RecordPickler(pickle.Pickler):
    """Pickles records whose entries are ``Ref``s as persistent ids, which ``decode``
    hands to its ``place``: the entries are made as the records are read, in one pass."""

    def persistent_id(self, obj: Any) -> tuple[Head, int, int, int] | None:  # noqa: ANN401
        return (obj.head, obj.offset, obj.length, obj.crc) if type(obj) is Ref else None


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles the records, the models and the few types their fields hold, nothing
    else: no other callable can be named in the file, whoever wrote it."""

    def __init__(self, file: io.BytesIO, place: Callable[[Any], StoredEntry] | None = None) -> None:
        super().__init__(file)
        self._place = place

    def persistent_load(self, pid: Any) -> StoredEntry:  # noqa: ANN401
        if self._place is None:
            raise pickle.UnpicklingError("an entry's pickle names no other entry")
        return self._place(pid)

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in _ALLOWED and module not in _MODEL_MODULES:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in the cache")
        found = super().find_class(module, name)
        if module in _MODEL_MODULES and not (
            isinstance(found, type) and (issubclass(found, BaseModel) or is_dataclass(found))
        ):
            raise pickle.UnpicklingError(f"{module}.{name} is not a model")
        if not isinstance(found, type):
            raise pickle.UnpicklingError(f"{module}.{name} is not a class")
        return found
