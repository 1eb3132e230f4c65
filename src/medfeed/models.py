"""The schema of one entry file and of site.toml, with every per-field rule."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    PlainSerializer,
    PlainValidator,
    StrictBool,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SLUG_RE = re.compile(SLUG_PATTERN, re.ASCII)
# XML 1.0 "Char": anything else makes lxml refuse to serialise the feed.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
_NO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", re.ASCII)
_PARTIAL_DATE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$", re.ASCII)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"]+$", re.ASCII)
_EMAIL_PART = r'[^@\s<>()"\x00-\x1f\x7f]+'
_EMAIL = re.compile(rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$", re.ASCII)
_DNS_NAME = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.ASCII
)
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$", re.ASCII)
TIME_EXAMPLE = "2016-09-16T10:00:00+02:00"


_ASCII_TEXT = bytes(range(0x20, 0x7F)) + b"\t\n\r"


def xml_unsafe(value: str) -> str | None:
    """Why a text cannot go into a feed, a page or a header; None if it can."""
    # Most text is ASCII: deleting the allowed bytes is ~6x faster than the regex.
    if value.isascii() and not value.encode("ascii").translate(None, _ASCII_TEXT):
        return None
    bad = _NOT_XML.search(value)
    if bad is None:
        return None
    code = ord(bad.group())
    kind = "an unpaired surrogate" if 0xD800 <= code <= 0xDFFF else "the control character"
    return f"contains {kind} U+{code:04X}, which a feed cannot carry; remove it"


def unsafe_texts(data: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Every string in parsed JSON or TOML, keys included, that XML cannot carry.

    Yields (dotted field path, message). Run over the whole document before the schema,
    so that no field, present or future, known or misspelt, can reach a renderer with
    text it would refuse.
    """
    if isinstance(data, str):
        message = xml_unsafe(data)
        if message:
            yield ".".join(path), message
    elif isinstance(data, dict):
        for key, value in data.items():
            where = (*path, str(key))
            message = xml_unsafe(str(key))
            if message:
                yield ".".join(where), f"the field name {message}"
            yield from unsafe_texts(value, where)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from unsafe_texts(value, (*path, str(index)))


def _xml_safe(value: str) -> str:
    message = xml_unsafe(value)
    if message:
        raise ValueError(message)
    return value


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("should be a single line")
    return value


def _slug(value: str) -> str:
    if not SLUG_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a slug: use lower-case letters, digits and single hyphens"
        )
    return value


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"should be an RFC 3339 time in a string, e.g. {TIME_EXAMPLE}")
    if _NO_OFFSET.fullmatch(value):
        raise ValueError(
            f"has no time-zone offset: write it as e.g. {TIME_EXAMPLE} or with Z for UTC"
        )
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"should be an RFC 3339 time, e.g. {TIME_EXAMPLE}")
    return value


def _sane_year(value: datetime) -> datetime:
    # Far-off years overflow when feeds convert them to UTC or RFC 822.
    if not 1900 <= value.year <= 9998:
        raise ValueError("should be a year from 1900 to 9998")
    return value


def _uri(value: str) -> str:
    if not _URI.fullmatch(value):
        raise ValueError("should be an absolute URI, e.g. tag:example.org,2016-09-16:my-entry")
    return value


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("should be an e-mail address like name@example.org")
    return value


def _http_only(value: HttpUrl) -> HttpUrl:
    if value.query is None and value.fragment is None and value.username is None:
        return value
    if value.username is not None or value.password is not None:
        raise ValueError("should not carry a user name or password")
    return value


Text = Annotated[str, Field(min_length=1), AfterValidator(_xml_safe)]
"""Free text, possibly many lines, that XML can carry."""

Line = Annotated[
    str,
    Field(min_length=1, max_length=500),
    AfterValidator(_xml_safe),
    AfterValidator(_one_line),
]
"""A short single line: a title, a name, a place."""

Slug = Annotated[
    str,
    AfterValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": SLUG_PATTERN}),
]
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_sane_year),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [TIME_EXAMPLE]}),
]
Link = Annotated[HttpUrl, AfterValidator(_http_only)]
Email = Annotated[str, AfterValidator(_xml_safe), AfterValidator(_email)]


@dataclass(frozen=True)
class PartialDate:
    """A calendar date known to the day, or only to the month."""

    year: int
    month: int
    day: int | None = None

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Read ``YYYY-MM-DD`` or ``YYYY-MM``."""
        match = _PARTIAL_DATE.fullmatch(text)
        if not match:
            raise ValueError("should be a day like 2015-10-12 or a month like 2014-12")
        year, month = int(match[1]), int(match[2])
        day = int(match[3]) if match[3] else None
        try:
            date(year, month, 1 if day is None else day)
        except ValueError as e:
            raise ValueError(f"is not a real date ({e})") from None
        if year < 1:
            raise ValueError("is not a real date (year 0)")
        return cls(year, month, day)

    @property
    def first_day(self) -> date:
        """The earliest day this date may mean."""
        return date(self.year, self.month, self.day or 1)

    @property
    def last_day(self) -> date:
        """The latest day this date may mean."""
        if self.day is not None:
            return date(self.year, self.month, self.day)
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def label(self) -> str:
        """How a page shows it: ``12 October 2015`` or ``June 2015``."""
        month = calendar.month_name[self.month]
        if self.day is None:
            return f"{month} {self.year}"
        return f"{self.day} {month} {self.year}"

    def __str__(self) -> str:
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def _partial_date(value: object) -> PartialDate:
    if isinstance(value, PartialDate):
        return value
    if not isinstance(value, str):
        raise ValueError("should be a day like 2015-10-12 or a month like 2014-12 in a string")
    return PartialDate.parse(value)


EventDate = Annotated[
    PartialDate,
    PlainValidator(_partial_date),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}(-\d{2})?$",
            "description": "A day (2015-10-12) or, where only the month is known, a month "
            "(2014-12).",
        }
    ),
]

Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False, strict=True)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False, strict=True)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    # Bounded: an id is the one text a feed must carry whole (see feeds.MAX_FEED_BYTES).
    id: (
        Annotated[str, Field(max_length=2048), AfterValidator(_xml_safe), AfterValidator(_uri)]
        | None
    ) = None
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
        seen = [c for i, c in enumerate(values) if c in values[:i]]
        if seen:
            raise ValueError(f"lists {seen[0]!r} twice")
        return values

    @property
    def last_changed(self) -> datetime:
        """``updated`` where given, else ``published``."""
        return self.updated or self.published


def _category_slug(value: str) -> str:
    if value == "all":
        raise ValueError("'all' is reserved for the feed of every entry")
    return value


def _authority(value: str) -> str:
    if _DNS_NAME.fullmatch(value) or _EMAIL.fullmatch(value):
        return value
    raise ValueError("should be a domain name you control (example.org) or an e-mail address")


def _base_url(value: HttpUrl) -> HttpUrl:
    if value.query is not None or value.fragment is not None:
        raise ValueError("should be an origin with an optional path, no query or fragment")
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError("should be a language tag such as en or en-GB")
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
    base_url: Annotated[HttpUrl, AfterValidator(_base_url)]
    language: Annotated[str, AfterValidator(_xml_safe), AfterValidator(_language)] = "en"
    author: Author
    authority: Annotated[str, AfterValidator(_xml_safe), AfterValidator(_authority)]
    item_limit: StrictInt = Field(default=50, ge=1, le=10_000)
    max_age: StrictInt = Field(default=300, ge=0, le=31_536_000)
    categories: tuple[Category, ...] = Field(min_length=1)

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
