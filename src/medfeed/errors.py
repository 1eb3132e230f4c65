"""The one exception tree of medfeed, and the located Problem that errors carry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one file: where, which field, and what."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        parts = (self.path, self.field, self.message) if self.field else (self.path, self.message)
        return ": ".join(printable(part) for part in parts)


def printable(text: str) -> str:
    """Text safe to print on one terminal line: unprintable characters as escapes."""
    if text.isprintable():
        return text
    # A file name or key holding ESC or a newline must not rewrite the operator's
    # terminal or split a log line.
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class MedfeedError(Exception):
    """Root of every error medfeed raises on purpose."""


class ConfigError(MedfeedError):
    """A setting or the site file is wrong; start-up cannot go on."""

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("settings", "", problems)]
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class EntryError(MedfeedError):
    """An entry file is not a valid entry."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class EditError(MedfeedError):
    """A change an editor asked for cannot be made (the message says why)."""


class NotFound(MedfeedError):
    """A lookup by name found nothing (the web app answers 404)."""


class UnknownCategory(NotFound):
    """No category has this slug."""


class UnknownEntry(NotFound):
    """No published entry has this slug."""


class RenderError(MedfeedError):
    """feedgen refused to render; validation should have made this impossible."""


class CacheDamaged(OSError):
    """An entry's bytes in the entry cache's file are not what the file said they were:
    changed under the process that loaded it. The entries are read from their files
    again (see Publisher.read_files_again)."""
