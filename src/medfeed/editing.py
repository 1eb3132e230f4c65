"""What editors do to the entries folder from the command line: start an entry, rename one.

Every change is checked before it is written, written whole (a temporary file renamed into
place) and never overwrites another file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from medfeed.errors import EditError, EntryError
from medfeed.fields import SLUG_RE
from medfeed.models import entry_id
from medfeed.reading import (
    SITE_FILE,
    entry_paths,
    file_label,
    load_site,
    parse_entry,
    read_entry,
    suggest_slug,
)
from medfeed.salvage import salvage_of
from medfeed.store import check_new_entry

SCHEMA_FILE = "schema/entry.schema.json"
SLUG_LIMIT = 80


def shorten_slug(slug: str, limit: int = SLUG_LIMIT) -> str:
    """Cut a long slug at a hyphen, so that the file name stays readable and legal."""
    if len(slug) <= limit:
        return slug
    cut = slug[: limit + 1].rsplit("-", 1)[0] if "-" in slug[:limit] else slug[:limit]
    return cut.strip("-")


def check_slug(slug: str) -> str:
    """A slug given by hand, as it is.

    Raises:
        EditError: it is not lower-case ASCII words joined by hyphens.
    """
    if not SLUG_RE.fullmatch(slug) or len(slug) > SLUG_LIMIT * 2:
        raise EditError(
            f"{slug!r} is not a slug: use lower-case letters, digits and single hyphens, "
            "e.g. conference-in-amman"
        )
    return slug


def alias_owner(
    entries: Path, slugs: Collection[str], besides: Path | None = None
) -> tuple[str, str] | None:
    """The first of ``slugs`` that an entry file (other than ``besides``) lists in its
    aliases, with that file's label; None if none does. Files with problems count too,
    so far as their aliases can be read."""
    for path in entry_paths(entries):
        if path == besides:
            continue
        try:
            aliases = read_entry(path, entries)[0].aliases
        except EntryError as e:
            aliases = tuple(alias for _, alias in salvage_of(e).aliases)
        taken = next((slug for slug in slugs if slug in aliases), None)
        if taken is not None:
            return taken, file_label(entries, path.name)
    return None


def _taken(slug: str, owner: str) -> EditError:
    return EditError(
        f"{slug!r} is an alias of {owner} (an earlier name of that entry: its old address "
        "redirects there); choose another slug"
    )


@dataclass(frozen=True)
class NewEntry:
    """What ``medfeed new`` is asked for."""

    title: str
    categories: tuple[str, ...]
    published: str | None = None
    event_date: str | None = None
    summary: str | None = None
    publish: bool = False
    slug: str | None = None


def _write_new(path: Path, data: dict[str, object]) -> None:
    """Write JSON to a file that must not exist yet, whole or not at all."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # link() fails if the name is taken, where rename() would replace the file.
        os.link(temporary, path)
    except FileExistsError:
        raise EditError(f"{path} already exists; not overwritten") from None
    except OSError as e:
        raise EditError(f"{path}: cannot write ({e.strerror})") from e
    finally:
        Path(temporary).unlink(missing_ok=True)


def new_entry(entries: Path, request: NewEntry) -> Path:
    """Write a new entry file (a draft unless ``publish``); returns its path.

    Raises:
        ConfigError: site.toml cannot be read.
        EditError: no file name could be made, or it is another entry's alias, or the file
            exists or cannot be written.
        EntryError: the entry would not be valid.
    """
    site = load_site(entries)
    slug = check_slug(request.slug) if request.slug else shorten_slug(suggest_slug(request.title))
    if not slug:
        raise EditError(
            f"cannot make a file name from the title {request.title!r}; "
            "name the file with --slug, e.g. --slug conference-in-amman"
        )
    if request.publish and not request.summary:
        raise EditError("an entry published at once needs its summary: give --summary")
    taken = alias_owner(entries, [slug])
    if taken:
        raise _taken(*taken)
    data: dict[str, object] = {}
    if (entries.parent / SCHEMA_FILE).is_file():
        data["$schema"] = f"../{SCHEMA_FILE}"
    now = datetime.now().astimezone().replace(microsecond=0).isoformat()
    data |= {
        "title": request.title,
        # A draft needs some summary to be valid; it is not shown until published.
        "summary": request.summary or request.title,
        "published": request.published or now,
        "categories": list(request.categories),
    }
    if request.event_date:
        data["event"] = {"start": request.event_date}
    if not request.publish:
        data["draft"] = True
    label = file_label(entries, f"{slug}.json")
    problems = check_new_entry(data, label, site)
    if problems:
        raise EntryError(problems)
    path = entries / f"{slug}.json"
    _write_new(path, data)
    return path


@dataclass(frozen=True)
class Move:
    """What ``medfeed mv`` did."""

    old: Path
    new: Path
    id: str
    pinned: bool
    """Whether the id was written into the file (it was computed from the old slug)."""


def entry_file(entries: Path, name: str) -> Path:
    """The entry file a slug, a file name or a path names, in the entries folder.

    Raises:
        EditError: the name is not an entry of this folder.
    """
    candidate = Path(name)
    slug = candidate.name.removesuffix(".json")
    if candidate.parent not in (Path("."), entries) and candidate.parent.resolve() != (
        entries.resolve()
    ):
        raise EditError(f"{name}: not in the entries folder {entries}")
    return entries / f"{check_slug(slug)}.json"


def move_entry(entries: Path, old_name: str, new_name: str) -> Move:
    """Rename an entry, keeping its id and answering its old address with a redirect.

    The id readers know is pinned in the file (``id``), the old slug is added to
    ``aliases``, the new file is written whole and only then the old one removed.

    Raises:
        ConfigError: site.toml cannot be read.
        EditError: a file is missing, exists already or cannot be written, or a name the
            entry would take (the new slug, the old one as an alias) is another's alias.
        EntryError: the old file is not a valid entry (fix it first).
    """
    site = load_site(entries)
    old, new = entry_file(entries, old_name), entry_file(entries, new_name)
    if old == new:
        raise EditError(f"{old} and {new} are the same file")
    if old.name == SITE_FILE or not old.is_file():
        raise EditError(f"{old}: no such entry file")
    if new.exists() or new.is_symlink():
        raise EditError(f"{new} already exists; not overwritten")
    old_slug, new_slug = old.name.removesuffix(".json"), new.name.removesuffix(".json")
    taken = alias_owner(entries, [new_slug, old_slug], besides=old)
    if taken and taken[0] == new_slug:
        raise _taken(*taken)
    if taken:
        # The old slug becomes an alias of this entry: it would be claimed twice.
        raise EditError(
            f"{old_slug!r} is already an alias of {taken[1]}, and would become one of this "
            "entry too: remove it from that file first"
        )
    known = {c.slug for c in site.categories}
    entry, _ = read_entry(old, entries, known)
    data = json.loads(old.read_text(encoding="utf-8-sig"))
    pinned = entry.id is None
    data["id"] = entry.id or entry_id(site.authority, entry.published, old_slug)
    aliases = [a for a in entry.aliases if a != new_slug]
    data["aliases"] = [*aliases, old_slug] if old_slug not in aliases else aliases
    label = file_label(entries, new.name)
    parse_entry(json.dumps(data).encode(), label, known)  # what we write must be valid
    problems = check_new_entry(data, label, site)
    if problems:
        raise EntryError(problems)
    _write_new(new, data)
    try:
        old.unlink()
    except OSError as e:
        raise EditError(f"{old}: written as {new}, but cannot remove it ({e.strerror})") from e
    return Move(old, new, str(data["id"]), pinned)
