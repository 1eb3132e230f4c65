"""Documents as HTTP delivers them: precompressed variants, precomputed headers, and
the answer to a conditional request. Pure functions of bytes and request headers.
"""

from __future__ import annotations

import functools
import hashlib
import re
import zlib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any

try:  # brotli is optional: installed with the "serve" extra.
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None

Headers = tuple[tuple[str, str], ...]
HTML_TYPE = "text/html; charset=utf-8"
# The pages use no scripts and no outside assets; the one inline <style> is allowed.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: Headers = (
    ("Content-Security-Policy", PAGE_POLICY),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)
GZIP_LEVEL = 6  # 9 costs 50% more time for 0.6% smaller feeds
ENCODINGS: tuple[str, ...] = ("identity", "gzip", *(("br",) if _brotli is not None else ()))
BROTLI_QUALITY = 7  # 11 costs ~40x the time for ~10% smaller feeds
LARGE_BODY = 1 << 20
"""Past this size, faster settings: a 3.4 MiB feed takes 124 ms at gzip level 6 and 22 ms
at level 1, 209 ms at brotli quality 7 and 49 ms at 4, for ~35% larger output."""
LARGE_GZIP_LEVEL = 1
LARGE_BROTLI_QUALITY = 4


@dataclass(frozen=True)
class Variant:
    """One encoding of a document: its bytes and the headers of a 200 answer."""

    encoding: str
    body: bytes
    etag: str
    headers: Headers


class Document:
    """A rendered feed or page, with what HTTP caching needs.

    Its compressed forms are made once, when first needed or by ``prepare()``; the app
    prepares every document when it renders it, so no request ever compresses.
    """

    __slots__ = (
        "body", "content_type", "etag", "last_modified", "date_validates", "_common", "_variants",
    )  # fmt: skip

    def __init__(
        self, body: bytes, content_type: str, last_modified: datetime, common: Headers
    ) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = hashlib.sha256(body).hexdigest()[:32]
        self.last_modified = last_modified
        self.date_validates = True
        """Whether If-Modified-Since may be answered with a 304 (see site.DateLedger)."""
        self._common = common
        self._variants: dict[str, Variant] = {}

    def redated(self, last_modified: datetime, *, date_validates: bool = True) -> Document:
        """The same bytes with another Last-Modified; compressed forms are not made again."""
        stamp = http_date(last_modified)
        common = tuple(
            (name, stamp if name == "Last-Modified" else value) for name, value in self._common
        )
        copy = Document.__new__(Document)
        copy.body, copy.content_type, copy.etag = self.body, self.content_type, self.etag
        copy.last_modified, copy.date_validates = last_modified, date_validates
        copy._common = common
        copy._variants = {
            encoding: Variant(
                encoding,
                variant.body,
                variant.etag,
                tuple((n, stamp if n == "Last-Modified" else v) for n, v in variant.headers),
            )
            for encoding, variant in self._variants.items()
        }
        return copy

    def variant(self, encoding: str) -> Variant:
        """The document in one encoding (identity, gzip or br), made on first use."""
        found = self._variants.get(encoding)
        if found is None:
            found = self._make(encoding)
            self._variants[encoding] = found
        return found

    def _make(self, encoding: str) -> Variant:
        if encoding == "gzip":
            data = gzip_bytes(self.body)
        elif encoding == "br" and _brotli is not None:
            large = len(self.body) > LARGE_BODY
            quality = LARGE_BROTLI_QUALITY if large else BROTLI_QUALITY
            data = _brotli.compress(self.body, quality=quality)
        elif encoding == "identity":
            data = self.body
        else:
            raise KeyError(encoding)
        # Each encoding has its own strong validator: the bytes differ.
        etag = f'"{self.etag}"' if encoding == "identity" else f'"{self.etag}-{encoding}"'
        headers = [*self._common, ("ETag", etag), ("Content-Length", str(len(data)))]
        if encoding != "identity":
            headers.append(("Content-Encoding", encoding))
        return Variant(encoding, data, etag, tuple(headers))

    def prepare(self) -> Document:
        """Make every encoding now."""
        for encoding in ENCODINGS:
            self.variant(encoding)
        return self

    @property
    def gzip(self) -> bytes:
        """The gzip form, as written beside the file by ``medfeed build``."""
        return self.variant("gzip").body


def gzip_bytes(body: bytes) -> bytes:
    """The gzip form of a body: deterministic (no name, no time), for HTTP and .gz files."""
    # A window no larger than the body: for a page of a few KiB, zlib's set-up of the
    # default 32 KiB window costs as much as the compression itself.
    bits = min(15, max(10, (len(body) - 1).bit_length()))
    level = LARGE_GZIP_LEVEL if len(body) > LARGE_BODY else GZIP_LEVEL
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + bits)
    return compressor.compress(body) + compressor.flush()


def brotli_available() -> bool:
    """Whether documents also carry a brotli form."""
    return _brotli is not None


def http_date(moment: datetime) -> str:
    """An IMF-fixdate, as HTTP wants dates."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def make_document(
    body: bytes,
    content_type: str,
    last_modified: datetime,
    max_age: int,
    extra_headers: Headers = (),
) -> Document:
    """Wrap bytes with every header of their answer, computed once."""
    common: Headers = (
        ("Content-Type", content_type),
        ("Last-Modified", http_date(last_modified)),
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Vary", "Accept-Encoding"),
        ("X-Content-Type-Options", "nosniff"),
        *extra_headers,
    )
    return Document(body, content_type, last_modified, common)


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


def _etag_matches(if_none_match: str, etag: str) -> bool:
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


def _not_modified_since(if_modified_since: str, last_modified: datetime) -> bool:
    since = parse_http_date(if_modified_since)
    return since is not None and last_modified.replace(microsecond=0) <= since


def with_vary(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with Accept-Encoding in Vary: added, or merged into a Vary there."""
    for name, value in headers:
        if name.lower() == "vary":
            tokens = {token.strip().lower() for token in value.split(",")}
            if tokens & {"accept-encoding", "*"}:
                return headers
    for index, (name, value) in enumerate(headers):
        if name.lower() == "vary" and value.strip():
            merged = list(headers)
            merged[index] = (name, f"{value}, Accept-Encoding")
            return merged
    return [*headers, ("Vary", "Accept-Encoding")]


@dataclass(frozen=True)
class Answer:
    """What to send: status line, headers, body."""

    status: str
    headers: Headers
    body: bytes


def answer(doc: Document, environ: Mapping[str, Any]) -> Answer:
    """Answer a GET or HEAD for a document: negotiate, then 304 or 200."""
    variant = doc.variant(choose_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""), ENCODINGS))
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        fresh = _etag_matches(if_none_match, variant.etag)
    else:
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        fresh = (
            since is not None
            and doc.date_validates
            and _not_modified_since(since, doc.last_modified)
        )
    if fresh:
        kept = ("Content-Type", "Content-Length", "Content-Encoding")
        headers = tuple((k, v) for k, v in variant.headers if k not in kept)
        return Answer("304 Not Modified", headers, b"")
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else variant.body
    return Answer("200 OK", variant.headers, body)
