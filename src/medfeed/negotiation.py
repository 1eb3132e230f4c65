"""What a request's headers ask for: the encoding it accepts, and whether its copy is fresh.

Accept-Encoding is read into weighted codings and the best offered one chosen; HTTP-dates
are parsed in all three of their formats; If-None-Match and If-Modified-Since are matched
against a document's ETag and Last-Modified. Pure functions of header strings, used by
``delivery`` to answer a request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

# RFC 9110 12.4.2: "1" or "0", then at most three decimals; anything else is not a qvalue.
_QVALUE = re.compile(r"[01](?:\.[0-9]{0,3})?")
# A quoted string (commas and semicolons inside it split nothing), a separator, or a run
# of anything else; together the alternatives cover every input.
_ACCEPT_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[,;]|[^,;"]+', re.DOTALL)
# RFC 9110 8.4.1.3: a recipient should treat x-gzip as gzip.
CODING_ALIASES = {"x-gzip": "gzip"}
PREFERENCE: tuple[str, ...] = ("br", "gzip")
"""Compressed codings the server offers, smallest output first."""


def _members(header: str) -> Iterator[list[str]]:
    """Split a list header into members, each a list of its ``;``-separated parts."""
    parts = [""]
    for token in _ACCEPT_TOKEN.findall(header):
        if token == ",":
            yield parts
            parts = [""]
        elif token == ";":
            parts.append("")
        else:
            parts[-1] += token
    yield parts


def _qvalue(text: str) -> float:
    # An unreadable weight is taken as a refusal: the safe reading of a garbled header.
    if _QVALUE.fullmatch(text) is None:
        return 0.0
    quality = float(text)
    return quality if quality <= 1.0 else 0.0


# Clients send few distinct headers: parsing each once keeps the fast path a lookup.
@functools.lru_cache(maxsize=256)
def accepted_codings(accept_encoding: str) -> Mapping[str, float]:
    """Each coding an Accept-Encoding value names (lower case), with its qvalue."""
    # The weight is the q parameter wherever it stands among the parameters, in any case
    # and spacing. A coding weighted or named more than once keeps its lowest weight, so
    # that a refusal is never overridden by a repetition.
    accepted: dict[str, float] = {}
    for name, *params in _members(accept_encoding):
        coding = name.strip().lower()
        if not coding:
            continue
        coding = CODING_ALIASES.get(coding, coding)
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                quality = min(quality, _qvalue(value.strip()))
        accepted[coding] = min(quality, accepted.get(coding, quality))
    return MappingProxyType(accepted)


def coding_quality(accepted: Mapping[str, float], coding: str) -> float:
    """The weight a parsed Accept-Encoding gives a coding (RFC 9110 12.5.3)."""
    if coding in accepted:
        return accepted[coding]
    if coding == "identity":
        # Identity is acceptable unless refused by name or by "*;q=0".
        return accepted.get("*", 1.0)
    return accepted.get("*", 0.0)


def choose_encoding(accept_encoding: str, available: Collection[str] = ()) -> str:
    """The best encoding the client accepts: br, then gzip, else identity."""
    # The weights decide what is acceptable, not the order: among acceptable codings the
    # smallest output wins, as it always has.
    if not accept_encoding:
        return "identity"
    accepted = accepted_codings(accept_encoding)
    for encoding in PREFERENCE:
        if encoding in available and coding_quality(accepted, encoding) > 0:
            return encoding
    # Also when identity is refused ("identity;q=0", "*;q=0") and nothing else is
    # acceptable: RFC 9110 12.5.3 lets the server disregard the field rather than
    # answer 406, and a feed reader is better served plain than not at all.
    return "identity"


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether If-None-Match names this ETag, or is ``*``."""
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    for candidate in if_none_match.split(","):
        if candidate.strip().removeprefix("W/") == etag:
            return True
    return False


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DAY_NAME = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_LONG_DAY_NAME = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = r"(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_TIME = r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
# GMT as HTTP writes it, or the other ways RFC 5322 dates (which some clients echo) say
# it, or a numeric offset.
_ZONE = r"(?:GMT|UTC|UT|Z|(?P<sign>[+-])(?P<offset_hours>[0-9]{2})(?P<offset_minutes>[0-9]{2}))"
# RFC 9110 5.6.7, read leniently in case, spacing and one-digit days as it advises;
# ASCII only, so that no other script's digits or letters pass for a date.
_HTTP_DATES = tuple(
    re.compile(pattern, re.ASCII | re.IGNORECASE)
    for pattern in (
        # IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        rf"{_DAY_NAME},\s*(?P<day>[0-9]{{1,2}})\s+{_MONTH}\s+(?P<year>[0-9]{{4}})"
        rf"\s+{_TIME}\s+{_ZONE}",
        # obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        rf"{_LONG_DAY_NAME},\s*(?P<day>[0-9]{{1,2}})-{_MONTH}-(?P<year>[0-9]{{2}}|[0-9]{{4}})"
        rf"\s+{_TIME}\s+{_ZONE}",
        # asctime, in UTC by definition: Sun Nov  6 08:49:37 1994
        rf"{_DAY_NAME}\s+{_MONTH}\s+(?P<day>[0-9]{{1,2}})\s+{_TIME}\s+(?P<year>[0-9]{{4}})",
    )
)


def _century_year(two_digits: int, rest: tuple[int, ...], now: datetime) -> int:
    # RFC 9110 5.6.7: a two-digit year that would lie more than 50 years in the future
    # is the most recent past year with those digits.
    limit = (now.year + 50, now.month, now.day, now.hour, now.minute, now.second)
    year = limit[0] - (limit[0] - two_digits) % 100
    return year - 100 if (year, *rest) > limit else year


def parse_http_date(value: str, now: datetime | None = None) -> datetime | None:
    """An HTTP-date in any of its three formats, in UTC; None if it is not one."""
    # ``now`` (default: the clock, read only then) places an RFC 850 two-digit year.
    for pattern in _HTTP_DATES:
        match = pattern.fullmatch(value.strip())
        if match is not None:
            break
    else:
        return None
    month = _MONTHS[match["month"].lower()]
    day, hour, minute = int(match["day"]), int(match["hour"]), int(match["minute"])
    # A leap second (60) is valid in HTTP but not in datetime; it is within the minute.
    second = min(int(match["second"]), 59)
    year = int(match["year"])
    if len(match["year"]) == 2:
        year = _century_year(year, (month, day, hour, minute, second), now or datetime.now(UTC))
    offset = timedelta()
    if match.groupdict().get("sign"):
        offset_hours, offset_minutes = int(match["offset_hours"]), int(match["offset_minutes"])
        if offset_hours > 23 or offset_minutes > 59:
            return None
        offset = timedelta(hours=offset_hours, minutes=offset_minutes)
        offset = -offset if match["sign"] == "-" else offset
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC) - offset
    except (ValueError, OverflowError):
        return None


def not_modified_since(
    if_modified_since: str, last_modified: datetime, now: datetime | None = None
) -> bool:
    """Whether If-Modified-Since is a date no earlier than Last-Modified (to the second).

    A date later than ``now`` (the time of the answer, its Date; default: the clock) is
    not valid (RFC 9110 13.1.3): it is ignored, as if absent. Otherwise a client whose
    clock runs fast, or that sends a made-up date, would be told "not modified" of every
    change until its date comes.
    """
    moment = now if now is not None else datetime.now(UTC)
    since = parse_http_date(if_modified_since, now=moment)
    if since is None or since > moment:
        return False
    return last_modified.replace(microsecond=0) <= since
