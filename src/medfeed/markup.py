"""Entry content: Markdown to HTML, then sanitised to a small allow-list."""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import nh3
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options

# Structure and emphasis only. No images or media: pages load nothing from other
# hosts, and a feed item should not either.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt",
        "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p",
        "pre", "q", "s", "small", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    # ammonia allows lang and title on every tag unless told otherwise; said here so
    # that every attribute that can come out is listed, and classified below.
    "*": {"lang", "title"},
    "a": {"href", "title"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "td": {"align"},
    "th": {"align"},
}
URL_ATTRIBUTES = frozenset({"href", "cite"})
"""Allowed attributes whose value is a URL: kept only as absolute http(s) or mailto URLs."""
TEXT_ATTRIBUTES = frozenset({"lang", "title", "align", "rel"})
"""Allowed attributes whose value is never followed; rel is the one nh3 writes on links."""
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer"

# Browsers strip C0 controls and spaces from both ends of a URL before reading its
# scheme, so the check must see the URL the same way.
_URL_ENDS = "".join(chr(code) for code in range(0x21))
# Feeds are read far from the site, so only absolute URLs mean the same thing there:
# "/x", "#a", "//host/" and "http:x" are dropped along with every other scheme.
_ABSOLUTE_URL = re.compile(r"(?:https?://[^\s/?#\\]|mailto:\S)", re.IGNORECASE | re.ASCII)
# XML 1.0 Char: character references such as &#1; decode to text a feed cannot carry.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_ASCII = bytes(range(0x20, 0x80)) + b"\t\n\r"


# Raw HTML is let through cmark because nh3 decides what comes out.
CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE
# GitHub's tagfilter is left out: it would show a <script> as text, where nh3 drops it.
CMARK_EXTENSIONS = ["table", "strikethrough", "autolink"]


def safe_url(value: str) -> str | None:
    """The URL if it is an absolute http, https or mailto URL, else None."""
    url = value.strip(_URL_ENDS)
    return url if _ABSOLUTE_URL.match(url) else None


def _filter_attribute(tag: str, name: str, value: str) -> str | None:
    # nh3 hands over the value with character references decoded, so "&#106;avascript:"
    # arrives as "javascript:". It checks schemes only on href; cite gets nothing.
    if name in URL_ATTRIBUTES:
        return safe_url(value)
    if name in TEXT_ATTRIBUTES:
        return value
    return None  # an attribute nobody classified is not let through


@cache
def _cleaner() -> nh3.Cleaner:
    # Built once: handing the allow-lists to nh3.clean() on every call costs as much as
    # the cleaning.
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_filter_attribute,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


def sanitise_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes, and text XML can carry."""
    clean = str(_cleaner().clean(html))
    # Deleting every allowed byte is six times faster than the pattern, for ASCII text.
    if clean.isascii() and not clean.encode("ascii").translate(None, _XML_ASCII):
        return clean
    return _NOT_XML.sub("\ufffd", clean)


class _Allocator(ctypes.Structure):
    _fields_ = [
        ("calloc", ctypes.c_void_p),
        ("realloc", ctypes.c_void_p),
        ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p)),
    ]


@cache
def _frees() -> tuple[Callable[[int], None], Callable[[int], None]]:
    # cmarkgfm never frees the tree it parses nor the HTML it returns: about seven
    # times the Markdown's size stays allocated after every call, for the life of the
    # process (theacodes/cmarkgfm#53). Its library exports the functions that free
    # them, which its Python binding leaves out.
    library = ctypes.CDLL(_cmark.__file__)
    free_node = library.cmark_node_free
    free_node.argtypes, free_node.restype = [ctypes.c_void_p], None
    library.cmark_get_default_mem_allocator.restype = ctypes.POINTER(_Allocator)
    allocator = library.cmark_get_default_mem_allocator().contents
    return free_node, allocator.free


def _address(pointer: Any) -> int:
    return int(_cmark.ffi.cast("uintptr_t", pointer))


def _to_html(text: str) -> str:
    """CommonMark with medfeed's extensions to HTML, unsanitised; frees what cmark used."""
    free_node, free = _frees()
    lib = _cmark.lib
    lib.cmark_gfm_core_extensions_ensure_registered()
    parser = lib.cmark_parser_new(CMARK_OPTIONS)
    try:
        for name in CMARK_EXTENSIONS:
            lib.cmark_parser_attach_syntax_extension(
                parser, lib.cmark_find_syntax_extension(name.encode())
            )
        source = text.encode()
        lib.cmark_parser_feed(parser, source, len(source))
        root = lib.cmark_parser_finish(parser)
        try:
            extensions = lib.cmark_parser_get_syntax_extensions(parser)
            raw = lib.cmark_render_html(root, CMARK_OPTIONS, extensions)
            try:
                # cmark writes U+FFFE and U+FFFF (from &#xFFFE; and &#xFFFF;) as bytes
                # that are not UTF-8; they read as U+FFFD.
                return str(_cmark.ffi.string(raw).decode("utf-8", "replace"))
            finally:
                free(_address(raw))
        finally:
            free_node(_address(root))
    finally:
        lib.cmark_parser_free(parser)


def render_markdown(text: str) -> str:
    """Markdown (GitHub-flavoured CommonMark: tables, strikethrough) to safe HTML."""
    return sanitise_html(_to_html(text)).strip()
