"""Documents as HTTP delivers them: precompressed variants, precomputed headers, and
the answer to a conditional request. Pure functions of bytes, request headers and the
time of the answer.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from medfeed.negotiation import choose_encoding, etag_matches, not_modified_since

try:  # brotli is optional: installed with the "serve" extra.
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None
try:  # ISA-L's deflate for large bodies; zlib's fastest level where it cannot be installed.
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover - depends on the environment
    _isal = None  # type: ignore[assignment]
try:  # libdeflate for the rest: zlib's sizes at each level in two thirds of its time.
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - depends on the environment
    _libdeflate = None  # type: ignore[assignment]

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
LARGE_BODY = 256 * 1024
"""Past this size, faster settings (and for the archive's documents, whatever their size:
a 130 KB month page takes zlib level 6 2.2 ms, ISA-L level 2 0.1 ms for 27% more bytes).
Large bodies are archive documents, calendars and year pages, fetched rarely, and a
build at 10,000 entries writes 230 MB of them: zlib at
level 6 spent 4.5 s on them. On a 2.5 MB archive: zlib level 6 53 ms (299 KB), level 1
11 ms (445 KB); ISA-L level 3 6 ms (420 KB), level 2 2.9 ms (436 KB). Brotli: quality 7
209 ms and 4 49 ms on a 3.4 MiB feed, ~35% larger."""
LARGE_GZIP_LEVEL = 1
LARGE_ISAL_LEVEL = 2
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
        "body", "content_type", "etag", "last_modified", "date_validates", "fast", "_common",
        "_variants",
    )  # fmt: skip

    def __init__(
        self,
        body: bytes,
        content_type: str,
        last_modified: datetime,
        common: Headers,
        *,
        fast: bool = False,
    ) -> None:
        self.body = body
        self.fast = fast
        """Compressed for speed rather than size, whatever its size (see LARGE_BODY)."""
        self.content_type = content_type
        self.last_modified = last_modified
        self.date_validates = True
        """Whether If-Modified-Since may be answered with a 304 (see site.DateLedger)."""
        self._common = common
        self._variants: dict[str, Variant] = {}
        if fast:
            # The archive: megabytes a document, and its gzip form (deterministic, a
            # sixth of the bytes) made anyway. The digest of that form tells versions
            # apart as well as the body's would (it is the body, compressed
            # losslessly), for a sixth of the hashing.
            packed = gzip_bytes(body, fast=True)
            self.etag = hashlib.sha256(packed).hexdigest()[:32]
            self._variants["gzip"] = self._variant("gzip", packed)
        else:
            self.etag = hashlib.sha256(body).hexdigest()[:32]

    def redated(self, last_modified: datetime, *, date_validates: bool = True) -> Document:
        """The same bytes with another Last-Modified; compressed forms are not made again."""
        stamp = http_date(last_modified)
        common = tuple(
            (name, stamp if name == "Last-Modified" else value) for name, value in self._common
        )
        copy = Document.__new__(Document)
        copy.body, copy.content_type, copy.etag = self.body, self.content_type, self.etag
        copy.last_modified, copy.date_validates = last_modified, date_validates
        copy.fast = self.fast
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
        large = self.fast or len(self.body) > LARGE_BODY
        if encoding == "gzip":
            data = gzip_bytes(self.body, fast=large)
        elif encoding == "br" and _brotli is not None:
            quality = LARGE_BROTLI_QUALITY if large else BROTLI_QUALITY
            data = _brotli.compress(self.body, quality=quality)
        elif encoding == "identity":
            data = self.body
        else:
            raise KeyError(encoding)
        return self._variant(encoding, data)

    def _variant(self, encoding: str, data: bytes) -> Variant:
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


def gzip_bytes(body: bytes, *, fast: bool | None = None) -> bytes:
    """The gzip form of a body: deterministic (no name, no time), for HTTP and .gz files.

    ``fast`` (by default: a body larger than LARGE_BODY) compresses for speed."""
    # A window no larger than the body: for a page of a few KiB, zlib's set-up of the
    # default 32 KiB window costs as much as the compression itself.
    bits = min(15, max(10, (len(body) - 1).bit_length()))
    fast = len(body) > LARGE_BODY if fast is None else fast
    if fast and _isal is not None:
        quick = _isal.compressobj(LARGE_ISAL_LEVEL, _isal.DEFLATED, 16 + bits)
        return quick.compress(body) + quick.flush()
    level = LARGE_GZIP_LEVEL if fast else GZIP_LEVEL
    if _libdeflate is not None:
        return bytes(_libdeflate.gzip_compress(body, level))
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
    *,
    fast: bool = False,
) -> Document:
    """Wrap bytes with every header of their answer, computed once; ``fast``: compress
    for speed (documents fetched rarely, see Document.fast)."""
    common: Headers = (
        ("Content-Type", content_type),
        ("Last-Modified", http_date(last_modified)),
        ("Cache-Control", f"public, max-age={max_age}"),
        ("Vary", "Accept-Encoding"),
        ("X-Content-Type-Options", "nosniff"),
        *extra_headers,
    )
    return Document(body, content_type, last_modified, common, fast=fast)


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


def answer(
    doc: Document, environ: Mapping[str, Any], extra: Headers = (), now: datetime | None = None
) -> Answer:
    """Answer a GET or HEAD for a document: negotiate, then 304 or 200, with the
    ``extra`` headers (a feed's Link header) on both.

    ``now`` is the time of the answer (its Date; default: the clock): an
    If-Modified-Since later than it is ignored (see negotiation.not_modified_since).
    """
    variant = doc.variant(choose_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""), ENCODINGS))
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        fresh = etag_matches(if_none_match, variant.etag)
    else:
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        fresh = (
            since is not None
            and doc.date_validates
            and not_modified_since(since, doc.last_modified, now)
        )
    if fresh:
        kept = ("Content-Type", "Content-Length", "Content-Encoding")
        headers = tuple((k, v) for k, v in variant.headers if k not in kept)
        return Answer("304 Not Modified", headers + extra, b"")
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else variant.body
    return Answer("200 OK", variant.headers + extra if extra else variant.headers, body)
