"""What an entry file that fails validation still says.

pydantic skips a rule that ties parts of a file together once one of those parts fails
(``updated`` against a ``published`` without an offset, the length or repeats of a list
with one bad item, a location's coordinates when its place is missing). Those rules are
checked here on the parts that can still be read, so that ``medfeed validate`` reports
every problem in one run rather than in rounds. The parts that say which entry a file is
(its id, its publication time, its aliases) are kept too, for the rules across files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, get_origin

from annotated_types import MaxLen, MinLen
from pydantic import TypeAdapter, ValidationError

from medfeed.errors import EntryError, Problem
from medfeed.fields import EntryId, Slug, Timestamp
from medfeed.models import Entry

_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)
_ENTRY_ID: TypeAdapter[str] = TypeAdapter(EntryId)
_SLUG: TypeAdapter[str] = TypeAdapter(Slug)
_DISTINCT = ("categories", "aliases")
"""The lists of an entry that may not name one value twice (``models.Entry._distinct``)."""
_BOUNDS = [
    (field.alias or name, TypeAdapter(Annotated[tuple[Any, ...], bound]))
    for name, field in Entry.model_fields.items()
    if get_origin(field.annotation) is tuple
    for bound in field.metadata
    if isinstance(bound, MinLen | MaxLen)
]
"""The bounds on the length of an entry's lists, as the model sets them."""


@dataclass(frozen=True)
class Salvage:
    """The parts of an entry file that say which entry it is, each valid on its own."""

    id: str | None = None
    id_written: bool = False
    """Whether the file writes an id, valid or not: if it does, no id is computed for it."""
    published: datetime | None = None
    """As written: without an offset if it has none (only its date makes the id)."""
    aliases: tuple[tuple[int, str], ...] = ()
    """The aliases that are slugs, each with its place in the file's list."""


class InvalidEntry(EntryError):
    """An entry file's problems, and what can still be read from it."""

    def __init__(self, problems: Iterable[Problem], salvaged: Salvage | None = None) -> None:
        super().__init__(problems)
        self.salvaged = salvaged or Salvage()


def salvage_of(error: EntryError) -> Salvage:
    """What the file that ``error`` is about still says (nothing, if it could not be read)."""
    return error.salvaged if isinstance(error, InvalidEntry) else Salvage()


def salvage_entry(entry: Entry) -> Salvage:
    """What a valid entry says of who it is (for one that is not published all the same)."""
    aliases = tuple(enumerate(entry.aliases))
    return Salvage(entry.id, entry.id is not None, entry.published, aliases)


def salvage(data: Mapping[str, object]) -> Salvage:
    """The id, publication time and aliases of parsed entry data, where each is valid."""
    aliases = data.get("aliases")
    kept = []
    if isinstance(aliases, list):
        for index, alias in enumerate(aliases):
            if _valid(_SLUG, alias) is not None:
                kept.append((index, str(alias)))
    written = data.get("id")
    published = _time_as_written(data.get("published"))
    return Salvage(_valid(_ENTRY_ID, written), written is not None, published, tuple(kept))


def skipped_rules(data: Mapping[str, object], label: str) -> list[Problem]:
    """The rules between parts of an entry that pydantic skips when a part fails, checked
    on the parts that can be read. A rule it did check gives the same Problem again."""
    problems = _times(data, label)
    for field in _DISTINCT:
        values = data.get(field)
        if isinstance(values, list):
            seen: set[str] = set()
            for value in values:
                if not isinstance(value, str):
                    continue
                if value in seen:
                    problems.append(Problem(label, field, f"lists {value!r} twice"))
                    break
                seen.add(value)
    problems += _lengths(data, label)
    event = data.get("event")
    location = event.get("location") if isinstance(event, dict) else None
    if isinstance(location, dict) and (
        (location.get("latitude") is None) != (location.get("longitude") is None)
    ):
        message = "give both latitude and longitude, or neither"
        problems.append(Problem(label, "event.location", message))
    return problems


def _times(data: Mapping[str, object], label: str) -> list[Problem]:
    published = _time_as_written(data.get("published"))
    updated = _time_as_written(data.get("updated"))
    if published is None or updated is None:
        return []
    # A time without an offset is read as having the other's: editors write one zone.
    start = published if published.tzinfo else published.replace(tzinfo=updated.tzinfo)
    end = updated if updated.tzinfo else updated.replace(tzinfo=published.tzinfo)
    if end >= start:
        return []
    return [Problem(label, "updated", f"should not be before published ({published.isoformat()})")]


def _lengths(data: Mapping[str, object], label: str) -> list[Problem]:
    # The bounds of a list are checked by pydantic only once every item is valid.
    problems = []
    for field, bound in _BOUNDS:
        values = data.get(field)
        if not isinstance(values, list):
            continue
        try:
            bound.validate_python(values)
        except ValidationError as e:
            problems += [Problem(label, field, err["msg"]) for err in e.errors()]
    return problems


def _time_as_written(value: object) -> datetime | None:
    """A valid time; else the time an ISO 8601 text gives, with or without an offset."""
    valid: datetime | None = _valid(_TIMESTAMP, value)
    if valid is not None or not isinstance(value, str):
        return valid
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _valid(adapter: TypeAdapter[Any], value: object) -> Any:
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
