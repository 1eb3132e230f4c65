"""The field types an entry file and site.toml are built from, each with its rule.

Text that XML can carry, single lines, slugs, RFC 3339 timestamps, links, e-mail
addresses, partial event dates, coordinates, entry ids and the site's authority, base URL
and language: each is an annotated type whose validator says in one sentence what is
wrong. ``xml_unsafe`` and ``unsafe_texts`` are the same XML rule applied to a whole
parsed document before any schema sees it. The models that combine these types live in
``models``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    HttpUrl,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
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


def _no_fragment(value: HttpUrl) -> HttpUrl:
    if value.fragment is not None:
        raise ValueError("should be a hub's URL without a #fragment")
    return value


HubUrl = Annotated[HttpUrl, AfterValidator(_http_only), AfterValidator(_no_fragment)]
"""A WebSub hub's endpoint: absolute http or https, no credentials or fragment."""
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

# Bounded: an id is the one text a feed must carry whole (see feeds.MAX_FEED_BYTES).
EntryId = Annotated[str, Field(max_length=2048), AfterValidator(_xml_safe), AfterValidator(_uri)]
"""An entry's permanent id: an absolute URI, usually a tag URI."""


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


Authority = Annotated[str, AfterValidator(_xml_safe), AfterValidator(_authority)]
"""The domain name or e-mail address that tag URIs are minted under."""
BaseUrl = Annotated[HttpUrl, AfterValidator(_base_url)]
"""Where the site is published: an origin and optional path."""
Language = Annotated[str, AfterValidator(_xml_safe), AfterValidator(_language)]
"""A language tag such as en or en-GB."""
