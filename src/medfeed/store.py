"""Read the entries folder: site.toml and every entry file, into a Catalog.

Everything that can go wrong with a file becomes a located Problem; nothing here
raises for bad content except a broken site.toml, which stops start-up.
"""

from __future__ import annotations

import difflib
import json
import os
import pickle
import re
import stat
import tomllib
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ValidationError

from medfeed.errors import ConfigError, EntryError, Problem
from medfeed.markup import render_markdown
from medfeed.models import SLUG_RE, Entry, SiteConfig, entry_id

SITE_FILE = "site.toml"
MAX_FILE_BYTES = 1 << 20
PARALLEL_FROM = 2000
"""A folder of at least this many files is read by two processes."""


@dataclass(frozen=True)
class Item:
    """A valid entry as medfeed publishes it: the file's slug and label, and its id."""

    slug: str
    source: str
    entry: Entry
    id: str

    @cached_property
    def order(self) -> tuple[float, str]:
        """Sort key, newest first when reversed: publication time, then slug."""
        return (self.published_at, self.slug)

    @cached_property
    def changed_at(self) -> float:
        """When the entry last changed (updated, else published), as a POSIX timestamp."""
        return self.entry.last_changed.timestamp()

    @cached_property
    def published_at(self) -> float:
        """The publication time as a POSIX timestamp, cheap to compare."""
        return self.entry.published.timestamp()

    @cached_property
    def content_html(self) -> str:
        """The content as safe HTML, rendered when first needed.

        Only the items that feeds and visited pages show are ever rendered, which keeps
        start-up with thousands of entries fast.
        """
        return render_markdown(self.entry.content) if self.entry.content else ""


@dataclass(frozen=True)
class Catalog:
    """Every valid entry of a folder (newest first), drafts too, and every problem found."""

    site: SiteConfig
    items: tuple[Item, ...]
    problems: tuple[Problem, ...]

    def visible(self, now: datetime) -> tuple[Item, ...]:
        """The items readers see: not drafts, and their publication time has come."""
        moment = now.timestamp()
        return tuple(i for i in self.items if i.published_at <= moment and not i.entry.draft)

    def next_release(self, now: datetime) -> datetime | None:
        """When the next scheduled item becomes visible, if any is waiting."""
        moment = now.timestamp()
        # Items are newest first: the scheduled ones are at the front.
        waiting = []
        for item in self.items:
            if item.published_at <= moment:
                break
            if not item.entry.draft:
                waiting.append(item.entry.published)
        return min(waiting, default=None)


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


def build_item(slug: str, label: str, entry: Entry, site: SiteConfig) -> Item:
    """Attach the computed id to a valid entry."""
    return Item(slug, label, entry, entry.id or entry_id(site.authority, entry.published, slug))


def _category_problems(item: Item, known: Collection[str]) -> list[Problem]:
    problems = []
    for index, category in enumerate(item.entry.categories):
        if category not in known:
            guess = nearest(category, known)
            hint = f"did you mean {guess!r}? " if guess else ""
            message = f"unknown category {category!r}; {hint}known: {', '.join(sorted(known))}"
            problems.append(Problem(item.source, f"categories.{index}", message))
    return problems


def _order(item: Item) -> tuple[float, str]:
    return item.order


def assemble(
    site: SiteConfig,
    items: Iterable[Item],
    *,
    last_good: Mapping[str, Item] | None = None,
    published: Collection[tuple[str, str]] = (),
) -> tuple[tuple[Item, ...], list[Problem]]:
    """Apply the rules that span files: known categories and unique ids.

    ``last_good`` (by source) stands in for an item that breaks a rule, and an id that
    two files claim stays with the file that had it in ``published`` ((id, source)
    pairs): a careless edit never unpublishes what readers already have.
    """
    # This runs on every change over every entry: the common case stays a cheap loop.
    problems: list[Problem] = []
    known = frozenset(c.slug for c in site.categories)
    usable = []
    for item in items:
        if known.issuperset(item.entry.categories):
            usable.append(item)
            continue
        problems.extend(_category_problems(item, known))
        fallback = (last_good or {}).get(item.source)
        if fallback is not None and known.issuperset(fallback.entry.categories):
            usable.append(fallback)
    fallbacks = last_good or {}
    # An id stays with the file that published it for as long as that file exists,
    # whatever that file's current version says: chains of careless edits (a takes b's
    # id while b takes c's) then leave every file with what readers already have.
    present = {item.source for item in usable}
    owners = {claimed: source for claimed, source in published if source in present}
    settled = []
    for item in usable:
        owner = owners.get(item.id, item.source)
        if owner == item.source:
            settled.append(item)
            continue
        problems.append(Problem(item.source, "id", f"the id {item.id!r} is also used by {owner}"))
        problems.append(Problem(owner, "id", f"the id {item.id!r} is also used by {item.source}"))
        fallback = fallbacks.get(item.source)
        if (
            fallback is not None
            and owners.get(fallback.id, item.source) == item.source
            and known.issuperset(fallback.entry.categories)
        ):
            settled.append(fallback)
    # Ids nobody published yet: two files naming the same one are both held back.
    first: dict[str, Item] = {}
    claims: dict[str, list[Item]] = {}
    for item in settled:
        holder = first.setdefault(item.id, item)
        if holder is not item:
            claims.setdefault(item.id, [holder]).append(item)
    kept = [item for item in settled if item.id not in claims] if claims else settled
    for claimed, claimants in claims.items():
        for item in claimants:
            others = ", ".join(o.source for o in claimants if o is not item)
            problems.append(
                Problem(item.source, "id", f"the id {claimed!r} is also used by {others}")
            )
    kept.sort(key=_order, reverse=True)
    return tuple(kept), problems


def check_new_entry(data: dict[str, object], label: str, site: SiteConfig) -> list[Problem]:
    """The problems an entry about to be written would have."""
    try:
        entry = Entry.model_validate(data)
    except ValidationError as e:
        return problems_from_validation(e, label, Entry)
    item = build_item(label.rsplit("/", 1)[-1].removesuffix(".json"), label, entry, site)
    return assemble(site, [item])[1]


Reading = tuple[str, Entry | None, tuple[Problem, ...]]
"""One file read: its name, and its entry or its problems."""


def _read_files(paths: list[Path], folder: Path) -> list[Reading]:
    readings: list[Reading] = []
    for path in paths:
        try:
            readings.append((path.name, read_entry_file(path, folder), ()))
        except EntryError as e:
            readings.append((path.name, None, e.problems))
    return readings


def _read_in_two_processes(paths: list[Path], folder: Path) -> list[Reading]:
    # Validating thousands of files is CPU-bound: a forked child reads every other
    # file and pickles its readings back, which costs a fifth of reading them.
    if not hasattr(os, "fork") or len(paths) < PARALLEL_FROM or (os.cpu_count() or 1) < 2:
        return _read_files(paths, folder)
    theirs_paths = paths[1::2]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        status = 0
        try:
            data = pickle.dumps(_read_files(theirs_paths, folder), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as out:
                out.write(data)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    mine = _read_files(paths[0::2], folder)
    with os.fdopen(read_end, "rb") as source:
        data = source.read()
    _, status = os.waitpid(pid, 0)
    # Our own child's bytes, never another party's: safe to unpickle.
    theirs = pickle.loads(data) if status == 0 and data else _read_files(theirs_paths, folder)
    merged = [reading for pair in zip(mine, theirs, strict=False) for reading in pair]
    return merged + mine[len(theirs) :]


def load_catalog(folder: Path) -> Catalog:
    """Read a whole entries folder (large ones with two processes).

    Raises:
        ConfigError: site.toml is missing or invalid, or the folder cannot be listed.
    """
    site = load_site(folder)
    try:
        paths = list(entry_paths(folder))
    except OSError as e:
        raise ConfigError(f"{folder}: cannot list the entries folder ({e.strerror})") from e
    problems: list[Problem] = []
    items = []
    for name, entry, found in _read_in_two_processes(paths, folder):
        problems.extend(found)
        if entry is not None:
            slug = name.removesuffix(".json")
            items.append(build_item(slug, file_label(folder, name), entry, site))
    published, cross = assemble(site, items)
    return Catalog(site=site, items=published, problems=tuple(sorted(problems + cross)))
