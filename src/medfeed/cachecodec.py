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
import struct
import sys
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import is_dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import cmarkgfm
import nh3
import pydantic
import pydantic_core
from pydantic import BaseModel

from medfeed.filestate import Signature
from medfeed.models import Entry

MAGIC = b"medfeed entry cache 2\n"
FRAME = struct.Struct("<QI")
"""Each chunk's length and CRC-32; a length of 0 ends the file."""
CHUNK = 500
"""Records per pickle: a writer thread lets requests run between two of them."""


# Named tuples, not frozen dataclasses: a restart makes one of each per entry file, and
# a tuple is made without a Python-level __init__.
class Version(NamedTuple):
    """One valid version of an entry file: the entry, its file's mtime, its HTML if made."""

    entry: Entry
    modified_ns: int
    html: str | None = None


class Record(NamedTuple):
    """What the cache holds of one entry file."""

    signature: Signature | None
    """The signature ``current`` was read under; None where no version is cached."""
    current: Version | None
    published: Version | None
    """The version readers were last given: ``current`` itself where it is that one."""


_ALLOWED = frozenset(
    {
        ("medfeed.cachecodec", "Version"),
        ("medfeed.cachecodec", "Record"),
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
            data = pickle.dumps((published.entry, published.modified_ns), pickle.HIGHEST_PROTOCOL)
            shown = hashlib.sha256(data).hexdigest()
        digest.update(f"{name}\0{signature}\0{current is not None}\0{shown}\n".encode())
    return digest.hexdigest()


def encode(records: Mapping[str, Record]) -> Iterator[bytes]:
    """The records as framed pickles of CHUNK records each, made one at a time (the
    cache of 100,000 entries weighs 280 MB), then the frame that ends them."""
    rows = list(records.items())
    for i in range(0, len(rows), CHUNK):
        chunk = pickle.dumps(dict(rows[i : i + CHUNK]), pickle.HIGHEST_PROTOCOL)
        yield FRAME.pack(len(chunk), checksum(chunk)) + chunk
    yield FRAME.pack(0, 0)


def checksum(chunk: bytes) -> int:
    """What tells a damaged chunk (CRC-32: fast, and no one forges our own files)."""
    return zlib.crc32(chunk)


def read_frames(f: BinaryIO) -> Iterator[bytes]:
    """The chunks ``encode`` framed, checked, one at a time.

    Raises:
        ValueError: the file is truncated, damaged or longer than its frames.
    """
    while True:
        head = f.read(FRAME.size)
        if len(head) != FRAME.size:
            raise ValueError("truncated")
        size, crc = FRAME.unpack(head)
        if size == 0:
            break
        chunk = f.read(size)
        if len(chunk) != size or checksum(chunk) != crc:
            raise ValueError("truncated or damaged")
        yield chunk
    if f.read(1):
        raise ValueError("longer than its frames")


def decode(chunk: bytes) -> dict[str, Record]:
    """The records of one pickle, checked to hold what ``encode`` writes.

    Raises:
        pickle.UnpicklingError: a class other than the models' and their fields' types.
        ValueError: anything else than records of entries.
    """
    records = _ModelUnpickler(io.BytesIO(chunk)).load()
    if type(records) is not dict:
        raise ValueError("a chunk holds no records")
    for name, record in records.items():
        if type(name) is not str or "/" in name or type(record) is not Record:
            raise ValueError("a chunk holds something other than records")
        signature, current, published = record
        for version in (current, published):
            if version is not None and (
                type(version) is not Version or type(version.entry) is not Entry
            ):
                raise ValueError(f"{name}: a record holds something other than an entry")
        if current is not None and type(signature) is not tuple:
            raise ValueError(f"{name}: a cached version without a signature")
    return records


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles the records, the models and the few types their fields hold, nothing
    else: no other callable can be named in the file, whoever wrote it."""

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
