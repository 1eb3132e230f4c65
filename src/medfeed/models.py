"""The schema of one entry file and of site.toml: the models built from ``fields``.

Entry, Event, Location, Author, Category and SiteConfig, with the rules that tie one
field to another; ``entry_id`` mints an entry's tag URI and ``entry_json_schema`` gives
editors the entry schema.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from medfeed.fields import (
    Authority,
    BaseUrl,
    Email,
    EntryId,
    EventDate,
    HubUrl,
    Language,
    Latitude,
    Line,
    Link,
    Longitude,
    PartialDate,
    Slug,
    Text,
    Timestamp,
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The fields a file gave are a set, which pickles in the order of its strings'
    # hashes, and those differ from process to process: as a sorted tuple, one entry
    # pickles to the same bytes in every process (what a build's document keys tell
    # entries apart by: see cachecodec.content_tag).
    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        return {**state, "__pydantic_fields_set__": tuple(sorted(self.__pydantic_fields_set__))}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        # A state just unpickled, this object's alone.
        state["__pydantic_fields_set__"] = set(state.get("__pydantic_fields_set__", ()))
        super().__setstate__(state)


class Location(_Model):
    """Where an event took place."""

    place: Line
    country: Line
    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @model_validator(mode="after")
    def _both_coordinates(self) -> Location:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        return self


def has_point(location: Location | None) -> bool:
    """Whether an event location has coordinates (both, or neither, are given): what a
    feed item carries as a GeoRSS point."""
    return location is not None and location.latitude is not None


class Event(_Model):
    """When and where the thing an entry reports happened."""

    start: EventDate
    end: EventDate | None = None
    location: Location | None = None

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: PartialDate | None, info: ValidationInfo) -> Any:
        start = info.data.get("start")
        if end is not None and start is not None and end.last_day < start.first_day:
            raise ValueError(f"should not be before the start ({start})")
        return end

    @property
    def days(self) -> tuple[date, date]:
        """The first and last day (inclusive) the event may have covered."""
        last = self.end if self.end is not None else self.start
        return self.start.first_day, last.last_day

    @property
    def label(self) -> str:
        """The event's dates as a page shows them."""
        if self.end is None or self.end == self.start:
            return self.start.label
        return f"{self.start.label} to {self.end.label}"


class Author(_Model):
    """A person or body credited with an entry."""

    name: Line
    email: Email | None = None
    uri: Link | None = None


class Entry(_Model):
    """One news item or event: the content of one ``entries/<slug>.json`` file."""

    schema_: str | None = Field(default=None, alias="$schema")
    title: Line
    summary: Text
    content: Text | None = None
    published: Timestamp
    updated: Timestamp | None = None
    categories: tuple[Slug, ...] = Field(min_length=1)
    event: Event | None = None
    link: Link | None = None
    authors: tuple[Author, ...] = Field(default=(), max_length=100)
    id: EntryId | None = None
    aliases: tuple[Slug, ...] = ()
    """Earlier slugs of this entry: their pages redirect here for good."""
    draft: StrictBool = False

    @field_validator("updated")
    @classmethod
    def _updated_after_published(cls, updated: datetime | None, info: ValidationInfo) -> Any:
        published = info.data.get("published")
        if updated is not None and published is not None and updated < published:
            raise ValueError(f"should not be before published ({published.isoformat()})")
        return updated

    @field_validator("categories", "aliases")
    @classmethod
    def _distinct(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        # A set, not a scan of what came before: a list of thousands stays linear.
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise ValueError(f"lists {value!r} twice")
            seen.add(value)
        return values

    @property
    def last_changed(self) -> datetime:
        """``updated`` where given, else ``published``."""
        return self.updated or self.published


def _category_slug(value: str) -> str:
    if value == "all":
        raise ValueError("'all' is reserved for the feed of every entry")
    return value


class Category(_Model):
    """One entry of the category vocabulary."""

    slug: Annotated[Slug, AfterValidator(_category_slug)]
    title: Line
    description: Text | None = None


class SiteConfig(_Model):
    """The publication as ``site.toml`` describes it."""

    title: Line
    description: Text
    base_url: BaseUrl
    language: Language = "en"
    author: Author
    authority: Authority
    item_limit: StrictInt = Field(default=50, ge=1, le=10_000)
    max_age: StrictInt = Field(default=300, ge=0, le=31_536_000)
    categories: tuple[Category, ...] = Field(min_length=1)
    hubs: tuple[HubUrl, ...] = Field(default=(), max_length=10)
    """WebSub hubs that feeds advertise and that are told of changes; none by default."""

    @field_validator("hubs")
    @classmethod
    def _distinct_hubs(cls, hubs: tuple[HubUrl, ...]) -> tuple[HubUrl, ...]:
        urls = [str(h) for h in hubs]
        twice = [u for i, u in enumerate(urls) if u in urls[:i]]
        if twice:
            raise ValueError(f"names {twice[0]!r} twice")
        return hubs

    @field_validator("categories")
    @classmethod
    def _distinct(cls, categories: tuple[Category, ...]) -> tuple[Category, ...]:
        slugs = [c.slug for c in categories]
        twice = [s for i, s in enumerate(slugs) if s in slugs[:i]]
        if twice:
            raise ValueError(f"defines {twice[0]!r} twice")
        return categories

    def category(self, slug: str) -> Category | None:
        """The category with this slug, if the vocabulary has it."""
        return next((c for c in self.categories if c.slug == slug), None)


def entry_id(authority: str, published: datetime, slug: str) -> str:
    """The RFC 4151 tag URI of an entry; independent of title, content and base URL."""
    return f"tag:{authority},{published.date().isoformat()}:{slug}"


def entry_json_schema() -> dict[str, Any]:
    """The JSON Schema of an entry file, for editors that complete and check while typing."""
    schema = Entry.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "entry.schema.json",
        **schema,
    }
