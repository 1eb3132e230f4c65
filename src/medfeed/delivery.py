"""Documents as HTTP delivers them: precompressed variants, precomputed headers, and
the answer to a conditional request. Pure functions of bytes and request headers.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
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

    __slots__ = ("body", "content_type", "etag", "last_modified", "_common", "_variants")

    def __init__(
        self, body: bytes, content_type: str, last_modified: datetime, common: Headers
    ) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = hashlib.sha256(body).hexdigest()[:32]
        self.last_modified = last_modified
        self._common = common
        self._variants: dict[str, Variant] = {}

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
            data = _brotli.compress(self.body, quality=BROTLI_QUALITY)
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
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + bits)
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


def choose_encoding(accept_encoding: str, available: Collection[str] = ()) -> str:
    """The best encoding the client accepts: br, then gzip, else identity."""
    if not accept_encoding:
        return "identity"
    accepted: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        accepted[name.strip()] = quality
    for encoding in ("br", "gzip"):
        quality = accepted.get(encoding, accepted.get("*", 0.0))
        if encoding in available and quality > 0:
            return encoding
    return "identity"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    for candidate in if_none_match.split(","):
        if candidate.strip().removeprefix("W/") == etag:
            return True
    return False


def _not_modified_since(if_modified_since: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError, OverflowError):
        return False
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


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
        fresh = since is not None and _not_modified_since(since, doc.last_modified)
    if fresh:
        kept = ("Content-Type", "Content-Length", "Content-Encoding")
        headers = tuple((k, v) for k, v in variant.headers if k not in kept)
        return Answer("304 Not Modified", headers, b"")
    body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else variant.body
    return Answer("200 OK", variant.headers, body)
