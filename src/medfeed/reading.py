"""Read one file of the entries folder: an entry file into an Entry, site.toml into a
SiteConfig. Everything that can go wrong becomes a Problem naming the file and field.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ValidationError

from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.models import SLUG_RE, Entry, SiteConfig

SITE_FILE = "site.toml"
MAX_FILE_BYTES = 1 << 20


def file_label(folder: Path, name: str) -> str:
    """How messages name a file: the folder's own name and the file's, never a full path."""
    # absolute(), not resolve(): no system calls, and this runs once per file.
    return f"{folder.absolute().name or folder.resolve().name}/{name}"


def is_entry_name(name: str) -> bool:
    """Whether a file name is meant as an entry (hidden files and editor leftovers are not)."""
    return name.endswith(".json") and not name.startswith((".", "#", "~"))


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to a misspelt word, if any is close."""
    choices = list(choices)
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not found and len(word) >= 3:
        # An abbreviation: "lat" for "latitude".
        found = [c for c in choices if c.startswith(word)][:1]
    return found[0] if found else None


def _nested_model(annotation: object) -> type[BaseModel] | None:
    # Event | None, tuple[Author, ...]: look one level into the type's arguments.
    candidates = [annotation, *get_args(annotation)]
    for candidate in list(candidates):
        candidates.extend(get_args(candidate))
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _field_names(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        nested = _nested_model(field.annotation) if field else None
        if nested is None:
            return []
        model = nested
    return [f.alias or name for name, f in model.model_fields.items()]


def problems_from_validation(
    error: ValidationError, label: str, model: type[BaseModel]
) -> list[Problem]:
    """One Problem per pydantic error, its field path joined with dots."""
    problems = []
    for err in error.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
            guess = nearest(str(err["loc"][-1]), _field_names(model, err["loc"][:-1]))
            if guess:
                message += f"; did you mean {guess!r}?"
        elif err["type"] == "missing":
            message = "is required"
        problems.append(Problem(label, field, message))
    return problems


def load_site(folder: Path) -> SiteConfig:
    """Read and validate ``site.toml``.

    Raises:
        ConfigError: the file is missing, not TOML, or not a valid site description.
    """
    path = folder / SITE_FILE
    label = file_label(folder, SITE_FILE)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError([Problem(label, "", "not found: the entries folder needs one")]) from None
    except OSError as e:
        raise ConfigError([Problem(label, "", f"cannot be read ({e.strerror})")]) from e
    except UnicodeDecodeError as e:
        raise ConfigError([Problem(label, "", f"is not UTF-8 text (byte {e.start})")]) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([Problem(label, "", f"is not valid TOML: {e}")]) from e
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(problems_from_validation(e, label, SiteConfig)) from e


def _reject_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for i, key in enumerate(keys) if key in keys[:i])
        raise _JSONProblem(f"the key {twice!r} appears twice; keep one")
    return result


def _reject_constant(name: str) -> object:
    raise _JSONProblem(f"{name} is not a JSON number")


class _JSONProblem(ValueError):
    pass


def parse_entry(raw: bytes, label: str) -> Entry:
    """Validate the bytes of one entry file.

    Raises:
        EntryError: with every problem found, each naming the file and field.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise EntryError([Problem(label, "", f"is not UTF-8 text (bad byte at {e.start})")]) from e
    if not text.strip():
        raise EntryError([Problem(label, "", "is empty; an entry is a JSON object")])
    try:
        data = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as e:
        reason = e.msg.removesuffix(" at")
        message = f"is not valid JSON: {reason} at line {e.lineno}, column {e.colno}"
        raise EntryError([Problem(label, "", message)]) from e
    except _JSONProblem as e:
        raise EntryError([Problem(label, "", f"is not usable JSON: {e}")]) from e
    except RecursionError as e:
        raise EntryError([Problem(label, "", "is not usable JSON: it nests too deeply")]) from e
    except ValueError as e:
        # e.g. an integer longer than Python's digit limit
        raise EntryError([Problem(label, "", f"is not usable JSON: {e}")]) from e
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "null"
        message = f"should hold a JSON object {{...}}, not a JSON {_json_kind(kind)}"
        raise EntryError([Problem(label, "", message)])
    try:
        return Entry.model_validate(data)
    except ValidationError as e:
        raise EntryError(problems_from_validation(e, label, Entry)) from e
    except RecursionError as e:
        raise EntryError([Problem(label, "", "nests too deeply")]) from e


def _json_kind(python_kind: str) -> str:
    return {"list": "array", "str": "string", "int": "number", "float": "number",
            "bool": "boolean"}.get(python_kind, python_kind)  # fmt: skip


def read_entry_file(path: Path, root: Path) -> Entry:
    """Read one entry file without following links out of the folder.

    Raises:
        EntryError: the file cannot be used, with the reason.
    """
    label = file_label(root, path.name)
    slug = path.name.removesuffix(".json")
    if not SLUG_RE.fullmatch(slug):
        suggestion = suggest_slug(slug)
        hint = f"; rename it to {suggestion}.json" if suggestion else ""
        message = f"file name should be lower-case words joined by hyphens{hint}"
        raise EntryError([Problem(label, "", message)])
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            if root.resolve() not in path.resolve().parents:
                message = "is a link to outside the folder; not followed"
                raise EntryError([Problem(label, "", message)])
            mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise EntryError([Problem(label, "", "is a folder, not a file")])
        if not stat.S_ISREG(mode):
            # A FIFO or device would block or never end.
            raise EntryError([Problem(label, "", "is not a regular file")])
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            raw = f.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
    except OSError as e:
        raise EntryError([Problem(label, "", f"cannot be read ({e.strerror})")]) from e
    if size > MAX_FILE_BYTES or len(raw) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES // 1024} KiB"
        raise EntryError([Problem(label, "", f"is larger than the {limit} limit for an entry")])
    return parse_entry(raw, label)


def suggest_slug(name: str) -> str:
    """The slug a file name should have: lower-case ASCII words joined by hyphens."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_name.lower()))


def entry_paths(folder: Path) -> Iterator[Path]:
    """The candidate entry files of a folder, in name order."""
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if is_entry_name(e.name))
    for name in names:
        yield folder / name
