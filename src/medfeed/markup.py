"""Entry content: Markdown to HTML, then sanitised to a small allow-list."""

from __future__ import annotations

from functools import cache

import cmarkgfm
import nh3
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
    "a": {"href", "title"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


# Raw HTML is let through cmark because nh3 decides what comes out.
CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE
# GitHub's tagfilter is left out: it would show a <script> as text, where nh3 drops it.
CMARK_EXTENSIONS = ["table", "strikethrough", "autolink"]


@cache
def _cleaner() -> nh3.Cleaner:
    # Built once: handing the allow-lists to nh3.clean() on every call costs as much as
    # the cleaning.
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def sanitise_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes."""
    return str(_cleaner().clean(html))


def render_markdown(text: str) -> str:
    """Markdown (GitHub-flavoured CommonMark: tables, strikethrough) to safe HTML."""
    html = cmarkgfm.markdown_to_html_with_extensions(
        text, options=CMARK_OPTIONS, extensions=CMARK_EXTENSIONS
    )
    return sanitise_html(html).strip()
