"""Read one file of the entries folder: an entry file into an Entry, site.toml into a
SiteConfig. Everything that can go wrong becomes a Problem naming the file and field.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import get_args

from anyascii import anyascii
from pydantic import BaseModel, ValidationError

from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.fields import SLUG_RE, unsafe_texts
from medfeed.models import Entry, SiteConfig
from medfeed.safefile import Unreadable, read_regular_file
from medfeed.salvage import InvalidEntry, salvage, salvage_entry, skipped_rules

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
    errors = error.errors(include_url=False)
    for err in errors:
        if err["type"] == "too_short" and any(
            other["loc"][: len(err["loc"])] == err["loc"] and len(other["loc"]) > len(err["loc"])
            for other in errors
        ):
            continue  # "should have at least 1 item" only because its items were refused
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
    return read_site(folder)[0]


def read_site(folder: Path) -> tuple[SiteConfig, int]:
    """Read and validate ``site.toml``; also its modification time in nanoseconds.

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or not a valid description.
    """
    label = file_label(folder, SITE_FILE)
    try:
        raw, modified = read_regular_file(folder / SITE_FILE, folder, MAX_FILE_BYTES)
    except FileNotFoundError:
        if not folder.is_dir():
            problem = Problem(str(folder), "", "the entries folder does not exist")
            raise ConfigError([problem]) from None
        raise ConfigError([Problem(label, "", "not found: the entries folder needs one")]) from None
    except Unreadable as e:
        raise ConfigError([Problem(label, "", str(e))]) from e
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise ConfigError([Problem(label, "", f"is not UTF-8 text (byte {e.start})")]) from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([Problem(label, "", f"is not valid TOML: {e}")]) from e
    unsafe = [Problem(label, field, message) for field, message in unsafe_texts(data)]
    try:
        site = SiteConfig.model_validate(data)
    except ValidationError as e:
        found = problems_from_validation(e, label, SiteConfig)
        raise ConfigError(list(dict.fromkeys([*unsafe, *found]))) from e
    if unsafe:
        raise ConfigError(unsafe)
    return site, modified


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


def parse_entry(raw: bytes, label: str, known: Collection[str] | None = None) -> Entry:
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
    return validate_entry(data, label, known)


def category_problems(categories: object, label: str, known: Collection[str]) -> list[Problem]:
    """A problem for each category slug the vocabulary does not have."""
    if not isinstance(categories, list | tuple):
        return []
    problems = []
    for index, category in enumerate(categories):
        if isinstance(category, str) and category not in known:
            guess = nearest(category, known)
            hint = f"did you mean {guess!r}? " if guess else ""
            message = f"unknown category {category!r}; {hint}known: {', '.join(sorted(known))}"
            problems.append(Problem(label, f"categories.{index}", message))
    return problems


def validate_entry(
    data: dict[str, object], label: str, known: Collection[str] | None = None
) -> Entry:
    """Validate parsed entry data, reporting every problem at once.

    With ``known`` categories, unknown ones are reported along with the other problems of
    a file that fails, and so are the rules between fields that pydantic skips once a
    field fails, so that no problem waits for the others to be fixed.

    Raises:
        InvalidEntry: with every problem found, each naming the file and field, and what
            can still be read from the file (see ``salvage_of``).
        EntryError: the data nests too deeply to be checked.
    """
    try:
        unsafe = [Problem(label, field, message) for field, message in unsafe_texts(data)]
        try:
            entry = Entry.model_validate(data)
        except ValidationError as e:
            found = problems_from_validation(e, label, Entry)
            if known is not None:
                found += category_problems(data.get("categories"), label, known)
            found += skipped_rules(data, label)
            problems = list(dict.fromkeys([*unsafe, *found]))
            raise InvalidEntry(problems, salvage(data)) from e
    except RecursionError as e:
        raise EntryError([Problem(label, "", "nests too deeply")]) from e
    if unsafe:
        raise InvalidEntry(unsafe, salvage_entry(entry))
    return entry


def _json_kind(python_kind: str) -> str:
    return {"list": "array", "str": "string", "int": "number", "float": "number",
            "bool": "boolean"}.get(python_kind, python_kind)  # fmt: skip


def read_entry_file(path: Path, root: Path) -> Entry:
    """Read one entry file without following links out of the folder.

    Raises:
        EntryError: the file cannot be used, with the reason.
    """
    return read_entry(path, root)[0]


def read_entry(path: Path, root: Path, known: Collection[str] | None = None) -> tuple[Entry, int]:
    """Read one entry file; also its modification time in nanoseconds.

    Raises:
        EntryError: the file cannot be used (or is gone), with the reason.
    """
    label = file_label(root, path.name)
    slug = path.name.removesuffix(".json")
    if not SLUG_RE.fullmatch(slug):
        suggestion = suggest_slug(slug)
        hint = f"; rename it to {suggestion}.json" if suggestion else ""
        message = f"file name should be lower-case words joined by hyphens{hint}"
        raise EntryError([Problem(label, "", message)])
    try:
        raw, modified = read_regular_file(path, root, MAX_FILE_BYTES)
    except FileNotFoundError as e:
        raise EntryError([Problem(label, "", "cannot be read (No such file or directory)")]) from e
    except Unreadable as e:
        message = str(e).replace("this file", "an entry")
        raise EntryError([Problem(label, "", message)]) from e
    return parse_entry(raw, label, known), modified


def suggest_slug(name: str) -> str:
    """The slug a file name should have: lower-case ASCII words joined by hyphens.

    Text in any script is transliterated (Hebrew, Arabic, Cyrillic, Greek...), so
    every title that has letters or digits gives a slug.
    """
    ascii_name = anyascii(unicodedata.normalize("NFC", name))
    return "-".join(re.findall(r"[a-z0-9]+", ascii_name.lower()))


def entry_paths(folder: Path) -> Iterator[Path]:
    """The candidate entry files of a folder, in name order."""
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if is_entry_name(e.name))
    for name in names:
        yield folder / name
