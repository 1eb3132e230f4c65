"""The last valid site settings of an entries folder, kept in the state folder.

A process that starts while site.toml is broken (a worker gunicorn starts again, a
restart, an upgrade) serves the settings the other processes serve, rather than failing
to start or taking a version of site.toml they held back.

The record is site.toml's text as it was when those settings came into force, with the
folder it belongs to. It is validated again on every load, with the rules site.toml
itself meets: a record that is damaged, made for another entries folder, not this
user's alone, or whose text no longer passes, is ignored as if absent. A process writes
the version it has just read from site.toml and put in force, whole, under a lock.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import NamedTuple

from medfeed.coordination import create_private, locked, replacing
from medfeed.fields import unsafe_texts
from medfeed.models import SiteConfig

RECORD_FILE = "site.record"
LOCK_FILE = "site.record.lock"
FORMAT = "medfeed site record 1"
LIMIT = 8 << 20
"""site.toml is at most 1 MiB; its text escaped as JSON stays well under this."""


class SiteVersion(NamedTuple):
    """One valid version of site.toml: its settings, its mtime and its text."""

    site: SiteConfig
    modified_ns: int
    text: str | None
    """What the settings were read from; None where that cannot be told for sure."""


def parse_site_text(text: str) -> SiteConfig:
    """The settings of a site.toml's text, by the rules ``reading.read_site`` applies.

    Raises:
        ValueError: the text is not a valid site.toml.
    """
    data = tomllib.loads(text)
    if next(unsafe_texts(data), None) is not None:
        raise ValueError("holds text XML cannot carry")
    return SiteConfig.model_validate(data)  # a ValidationError is a ValueError


class SiteRecord:
    """The record of the settings in force for one entries folder, in a state folder.

    Never raises: a record that cannot be read is absent (``trouble`` says why), and one
    that cannot be written stays as it was.
    """

    def __init__(self, state_folder: Path, root: Path) -> None:
        self.path = state_folder / RECORD_FILE
        self.root = os.path.abspath(root)
        self.trouble: str | None = None

    def load(self) -> SiteVersion | None:
        """The recorded version, validated again; None if absent or in any doubt."""
        self.trouble = None
        try:
            raw = self._read()
        except FileNotFoundError:
            return None
        except OSError as e:
            self.trouble = f"cannot be read ({e.strerror or e})"
            return None
        try:
            return self._version(raw)
        except (ValueError, TypeError, RecursionError) as e:
            self.trouble = f"not used ({type(e).__name__}: {e})"[:300]
            return None

    def _read(self) -> bytes:
        # Non-blocking and not through a link: a FIFO or a link put there is refused.
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        with os.fdopen(os.open(self.path, flags), "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise OSError("not a regular file")
            # Whoever could write it could choose the settings of every process.
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise OSError("the file is not this user's alone")
            raw = f.read(LIMIT + 1)
        if len(raw) > LIMIT:
            raise OSError("larger than a record can be")
        return raw

    def _version(self, raw: bytes) -> SiteVersion:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a site record of this format")
        if data.get("root") != self.root:
            raise ValueError(f"made for another entries folder ({data.get('root')})")
        text, modified = data.get("text"), data.get("modified_ns")
        if not isinstance(text, str) or type(modified) is not int:
            raise ValueError("a field is missing or of the wrong type")
        return SiteVersion(parse_site_text(text), modified, text)

    def save(self, version: SiteVersion) -> bool:
        """Record this version unless the record holds it already; whether written."""
        if version.text is None:
            return False
        try:
            with locked(self.path.with_name(LOCK_FILE)):
                held = self.load()
                if held is not None and held[1:] == version[1:]:
                    return False
                record = {
                    "format": FORMAT,
                    "root": self.root,
                    "modified_ns": version.modified_ns,
                    "text": version.text,
                }
                # A record a crash left damaged is ignored, which costs only the fallback
                # while site.toml is broken, until its next valid version.
                with replacing(self.path) as temp:
                    with os.fdopen(create_private(temp), "w", encoding="utf-8") as f:
                        json.dump(record, f)
                return True
        except OSError:
            return False
